"""Reads for the fund: balances and metrics derived from the ledger, and access_<entity>."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from ailab.accounts.models import User
from ailab.accounts.roles import is_lab_staff
from ailab.common.errors import NotAuthenticated, NotFound, PermissionDenied
from ailab.fund.models import (
    CASH_SIGN,
    DEPLOYING,
    REALISING,
    EntryKind,
    Fund,
    Holding,
    HoldingStatus,
    LedgerEntry,
    Valuation,
)
from ailab.fund.money import Money as Money  # re-exported for other apps
from ailab.fund.money import quantise

VIEW = "view"
CHANGE = "change"
ZERO = Decimal("0.00")
DEFAULT_AWARD = Decimal("100000.00")  # the accelerator's standard cheque, for projections


# Access --------------------------------------------------------------------


def _require_user(user: User) -> None:
    if not user.is_authenticated or not user.is_active:
        raise NotAuthenticated("authentication required")


def _lp_filter(user: User) -> Q:
    """Funds whose limited partners (commitment counterparties) the user belongs to."""
    return Q(
        entries__kind=EntryKind.COMMITMENT,
        entries__counterparty__memberships__user=user,
    )


def fund_list_visible_to(user: User) -> QuerySet[Fund]:
    """Lab staff see every fund; members of a limited partner see the funds it committed to."""
    _require_user(user)
    if is_lab_staff(user):
        return Fund.objects.all()
    return Fund.objects.filter(_lp_filter(user)).distinct()


def access_fund(user: User, fund_id: int, action: str = VIEW) -> Fund:
    """Visible to lab staff and the fund's limited partners; changed by lab staff only."""
    fund = fund_list_visible_to(user).filter(pk=fund_id).first()
    if fund is None:
        raise NotFound("no such fund", field="fund_id")
    if action == CHANGE and not is_lab_staff(user):
        raise PermissionDenied("only lab staff may change the fund")
    return fund


def access_holding(user: User, holding_id: int, action: str = VIEW) -> Holding:
    """A holding is visible with its fund; changed by lab staff only."""
    _require_user(user)
    holding = Holding.objects.select_related("fund", "organisation").filter(pk=holding_id).first()
    if holding is None:
        raise NotFound("no such holding", field="holding_id")
    access_fund(user, holding.fund_id, action)
    return holding


def fund_by_name(name: str) -> Fund | None:
    """For the demo and other apps' services, which check their own permissions."""
    return Fund.objects.filter(name=name).first()


def fund_by_id(fund_id: int) -> Fund:
    """For other apps' services, which check their own permissions."""
    fund = Fund.objects.filter(pk=fund_id).first()
    if fund is None:
        raise NotFound("no such fund", field="fund_id")
    return fund


# Balances and metrics ----------------------------------------------------------


def _sums(fund: Fund, as_of: dt.date | None) -> dict[str, Decimal]:
    qs = LedgerEntry.objects.filter(fund=fund)
    if as_of is not None:
        qs = qs.filter(occurred_on__lte=as_of)
    sums = {k: ZERO for k in EntryKind.values}
    for row in qs.values("kind").annotate(s=Sum("amount")):
        sums[row["kind"]] = row["s"] or ZERO
    return sums


def holding_cost(holding: Holding) -> Decimal:
    total = holding.entries.filter(kind__in=DEPLOYING).aggregate(s=Sum("amount"))["s"]
    return total or ZERO


def holding_value(holding: Holding, as_of: dt.date | None = None) -> Decimal:
    """The latest mark on or before ``as_of``, else cost; closed holdings are worth nothing."""
    if holding.status != HoldingStatus.ACTIVE and (
        as_of is None or (holding.closed_on and holding.closed_on <= as_of)
    ):
        return ZERO
    marks = Valuation.objects.filter(holding=holding)
    if as_of is not None:
        marks = marks.filter(as_of__lte=as_of)
    mark = marks.order_by("-as_of").first()
    return mark.value if mark else holding_cost(holding)


def _unrealised(fund: Fund, as_of: dt.date | None) -> Decimal:
    """Sum of ``holding_value`` over the fund's holdings, in three queries whatever their
    number (the latest mark on or before ``as_of``, else cost; closed ones count zero)."""
    holdings = Holding.objects.filter(fund=fund)
    entries = LedgerEntry.objects.filter(fund=fund, kind__in=DEPLOYING, holding__isnull=False)
    marks = Valuation.objects.filter(holding__fund=fund)
    if as_of is not None:
        holdings = holdings.filter(invested_on__lte=as_of)
        entries = entries.filter(occurred_on__lte=as_of)
        marks = marks.filter(as_of__lte=as_of)
    cost: dict[int, Decimal] = {
        hid: total or ZERO
        for hid, total in entries.values_list("holding_id").annotate(s=Sum("amount"))
    }
    latest: dict[int, Decimal] = {}
    for holding_id, value in marks.order_by("holding_id", "as_of").values_list(
        "holding_id", "value"
    ):
        latest[holding_id] = value
    total = ZERO
    for h in holdings.only("pk", "status", "closed_on"):
        closed = h.status != HoldingStatus.ACTIVE and (
            as_of is None or (h.closed_on is not None and h.closed_on <= as_of)
        )
        if not closed:
            total += latest.get(h.pk, cost.get(h.pk, ZERO))
    return total


@dataclass(frozen=True)
class FundBalances:
    currency: str
    committed: Decimal
    deployed: Decimal
    realised: Decimal
    written_off: Decimal
    available: Decimal
    unrealised: Decimal
    recycled: Decimal
    moic: Decimal | None
    irr: float | None

    def money(self, name: str) -> Money:
        return Money(getattr(self, name), self.currency)


def fund_balances(*, fund: Fund, as_of: dt.date | None = None) -> FundBalances:
    """Every balance is a sum over the ledger (never stored).

    available = committed - deployed + realised; recycled = the part of deployed capital
    paid for by realised proceeds (deployment beyond the committed capital).
    """
    sums = _sums(fund, as_of)
    committed = sums[EntryKind.COMMITMENT]
    deployed = sum((sums[k] for k in DEPLOYING), ZERO)
    realised = sum((sums[k] for k in REALISING), ZERO)
    available = sum((sums[k] * CASH_SIGN[k] for k in EntryKind.values), ZERO)
    unrealised = _unrealised(fund, as_of)
    recycled = quantise(min(realised, max(ZERO, deployed - committed)))
    moic = ((realised + unrealised) / deployed).quantize(Decimal("0.01")) if deployed > 0 else None
    return FundBalances(
        currency=fund.currency,
        committed=quantise(committed),
        deployed=quantise(deployed),
        realised=quantise(realised),
        written_off=quantise(sums[EntryKind.WRITE_OFF]),
        available=quantise(available),
        unrealised=quantise(unrealised),
        recycled=recycled,
        moic=moic,
        irr=fund_irr(fund=fund, as_of=as_of, unrealised=unrealised),
    )


def fund_summary(*, fund: Fund) -> dict[str, Any]:
    """The fund's figures as strings (exact decimals), for JSON summaries."""
    b = fund_balances(fund=fund)
    return {
        "name": fund.name,
        "currency": fund.currency,
        "committed": str(b.committed),
        "deployed": str(b.deployed),
        "available": str(b.available),
        "realised": str(b.realised),
        "recycled": str(b.recycled),
        "unrealised": str(b.unrealised),
        "moic": str(b.moic) if b.moic is not None else None,
        "irr": round(b.irr, 4) if b.irr is not None else None,
    }


def fund_cash_flows(
    *, fund: Fund, as_of: dt.date | None = None, unrealised: Decimal | None = None
) -> list[tuple[dt.date, Decimal]]:
    """The fund's investment cash flows: out to startups (-), back from them (+), and the
    unrealised value as a final inflow on ``as_of`` (today by default)."""
    as_of = as_of or timezone.localdate()
    flows: list[tuple[dt.date, Decimal]] = []
    qs = LedgerEntry.objects.filter(fund=fund, occurred_on__lte=as_of)
    for entry in qs.filter(kind__in=(*DEPLOYING, *REALISING)).order_by("occurred_on", "id"):
        flows.append((entry.occurred_on, entry.signed_amount))
    if unrealised is None:
        unrealised = fund_balances(fund=fund, as_of=as_of).unrealised
    if unrealised > 0:
        flows.append((as_of, unrealised))
    return flows


def fund_irr(
    *, fund: Fund, as_of: dt.date | None = None, unrealised: Decimal | None = None
) -> float | None:
    """IRR (annual, XIRR on dated flows) or None while it is undefined (no in- or outflow)."""
    import pyxirr

    flows = fund_cash_flows(fund=fund, as_of=as_of, unrealised=unrealised)
    if not any(a < 0 for _, a in flows) or not any(a > 0 for _, a in flows):
        return None
    try:
        rate = pyxirr.xirr([d for d, _ in flows], [float(a) for _, a in flows])
    except Exception:  # pyxirr raises when no rate converges: say so rather than guess
        return None
    return None if rate is None else float(rate)


def fund_projection(
    *, fund: Fund, award_amount: Decimal, award_currency: str, fx_rate: Decimal | None = None
) -> int:
    """How many awards of ``award_amount`` the fund's available cash pays for now."""
    per_award = Money(quantise(award_amount), award_currency).convert(fund.currency, fx_rate)
    if per_award.amount <= 0:
        return 0
    available = fund_balances(fund=fund).available
    return int((max(ZERO, available) / per_award.amount).to_integral_value(ROUND_FLOOR))


def fund_available(*, fund: Fund) -> Money:
    return fund_balances(fund=fund).money("available")


def fund_capital_series(*, fund: Fund) -> list[dict[str, Any]]:
    """Per ledger date: cumulative committed, deployed, realised and available cash."""
    series: list[dict[str, Any]] = []
    running = {"committed": ZERO, "deployed": ZERO, "realised": ZERO, "available": ZERO}
    for entry in LedgerEntry.objects.filter(fund=fund).order_by("occurred_on", "id"):
        if entry.kind == EntryKind.COMMITMENT:
            running["committed"] += entry.amount
        elif entry.kind in DEPLOYING:
            running["deployed"] += entry.amount
        elif entry.kind in REALISING:
            running["realised"] += entry.amount
        running["available"] += entry.signed_amount
        if series and series[-1]["date"] == entry.occurred_on:
            series[-1].update(running)
        else:
            series.append({"date": entry.occurred_on, **running})
    return series


def ledger_list(*, fund: Fund) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.filter(fund=fund).select_related("holding", "counterparty")


@dataclass(frozen=True)
class HoldingRow:
    holding: Holding
    cost: Decimal
    value: Decimal
    realised: Decimal


def holding_rows(*, fund: Fund) -> list[HoldingRow]:
    rows = []
    for h in Holding.objects.filter(fund=fund).select_related("organisation"):
        realised = h.entries.filter(kind__in=REALISING).aggregate(s=Sum("amount"))["s"] or ZERO
        rows.append(HoldingRow(h, holding_cost(h), holding_value(h), realised))
    return rows


def equity_holders_by_organisation(*, organisation_ids: Iterable[int]) -> dict[int, set[int]]:
    """For many startups at once: startup id -> the limited partners holding equity in it
    through a fund (two queries)."""
    held = Holding.objects.filter(
        organisation_id__in=list(organisation_ids), status=HoldingStatus.ACTIVE
    ).values_list("organisation_id", "fund_id")
    fund_ids = {f for _, f in held}
    partners: dict[int, set[int]] = {}
    for fund_id, lp in LedgerEntry.objects.filter(
        fund_id__in=fund_ids, kind=EntryKind.COMMITMENT, counterparty__isnull=False
    ).values_list("fund_id", "counterparty_id"):
        partners.setdefault(fund_id, set()).add(lp)
    out: dict[int, set[int]] = {}
    for org_id, fund_id in held:
        out.setdefault(org_id, set()).update(partners.get(fund_id, set()))
    return out


def equity_holder_organisation_ids(*, organisation_id: int) -> set[int]:
    """Organisations holding equity in ``organisation_id`` through a fund: the limited
    partners of every fund with an active holding in it (conflicts of interest in review)."""
    funds = Holding.objects.filter(
        organisation_id=organisation_id, status=HoldingStatus.ACTIVE
    ).values("fund_id")
    ids = LedgerEntry.objects.filter(
        fund_id__in=funds, kind=EntryKind.COMMITMENT, counterparty__isnull=False
    ).values_list("counterparty_id", flat=True)
    return {i for i in ids if i is not None}


def holding_for(*, fund: Fund, organisation_id: int) -> Holding | None:
    return Holding.objects.filter(fund=fund, organisation_id=organisation_id).first()


def home_panel(*, user: User) -> dict[str, Any]:
    """The fund at a glance, for those who may see it."""
    funds = list(fund_list_visible_to(user)) if user.is_authenticated else []
    return {
        "template": "fund/_home_panel.html",
        "funds": [(f, fund_balances(fund=f)) for f in funds],
    }
