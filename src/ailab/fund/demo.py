"""The demo fund: an evergreen fund with two limited partners (one committing in HKD).

Built through the services, idempotent. The programmes part invests from it, records an
exit and recycles the proceeds; it reports the fund's final figures under "fund".
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ailab.fund import selectors, services

FUND_NAME = "HKAI Lab Evergreen Fund"
COMMITMENTS = [
    # counterparty, amount, currency, fx_rate (USD per unit), date, reference
    ("Harbour Ventures", Decimal("1000000"), "USD", None, dt.date(2025, 1, 2), "demo:lp:harbour"),
    ("HKSTP", Decimal("1560000"), "HKD", Decimal("0.1282"), dt.date(2025, 1, 15), "demo:lp:hkstp"),
]


def demo_build_part(ctx: Any) -> dict[str, Any]:
    fund = selectors.fund_by_name(FUND_NAME)
    if fund is None:
        fund = services.fund_create(
            actor=ctx.staff,
            name=FUND_NAME,
            currency="USD",
            description="Evergreen: exit proceeds return to the fund and pay for later intakes.",
        )
    done = {e.reference for e in selectors.ledger_list(fund=fund)}
    for org_name, amount, currency, rate, on, reference in COMMITMENTS:
        if reference in done:
            continue
        services.capital_commit(
            actor=ctx.staff,
            fund=fund,
            amount=amount,
            currency=currency,
            fx_rate=rate,
            on=on,
            counterparty=ctx.organisations.get(org_name),
            reference=reference,
            memo=f"Commitment from {org_name}",
        )
    ctx.say(f"fund {fund.name}: committed {selectors.fund_balances(fund=fund).committed} USD")
    return {"fund": selectors.fund_summary(fund=fund)}
