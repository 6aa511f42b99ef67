"""Fund pages: the dashboard (metrics, capital chart, holdings, ledger)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe

from ailab.fund import selectors
from ailab.fund.chart import capital_svg


@login_required
def fund_dashboard(request: HttpRequest) -> HttpResponse:
    funds = list(selectors.fund_list_visible_to(request.user))  # type: ignore[arg-type]
    chosen = request.GET.get("fund")
    fund = None
    if chosen and chosen.isdigit():
        fund = selectors.access_fund(request.user, int(chosen))  # type: ignore[arg-type]
    elif funds:
        fund = funds[0]
    context: dict[str, object] = {"funds": funds, "fund": fund}
    if fund is not None:
        context.update(
            balances=selectors.fund_balances(fund=fund),
            # The SVG is built from numbers and escaped labels only.
            chart=mark_safe(capital_svg(selectors.fund_capital_series(fund=fund), fund.currency)),
            holdings=selectors.holding_rows(fund=fund),
            entries=list(selectors.ledger_list(fund=fund).order_by("-occurred_on", "-id")[:100]),
            projection=selectors.fund_projection(
                fund=fund,
                award_amount=selectors.DEFAULT_AWARD,
                award_currency="USD",
                fx_rate=None,
            )
            if fund.currency == "USD"
            else None,
        )
    return render(request, "fund/dashboard.html", context)
