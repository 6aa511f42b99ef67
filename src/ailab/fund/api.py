"""/api/v1 fund endpoints: funds, ledger, holdings, marks, metrics. Endpoints only translate.

Amounts travel as decimal strings (exact), each with its currency.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status

from ailab.accounts.models import User
from ailab.accounts.selectors import access_organisation
from ailab.fund import selectors, services
from ailab.fund.models import Fund, Holding, LedgerEntry

router = Router(tags=["fund"])


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


class BalancesOut(Schema):
    currency: str
    committed: Decimal
    deployed: Decimal
    available: Decimal
    realised: Decimal
    unrealised: Decimal
    written_off: Decimal
    recycled: Decimal
    moic: Decimal | None
    irr: float | None


class FundOut(Schema):
    id: int
    name: str
    currency: str
    description: str
    balances: BalancesOut


class HoldingOut(Schema):
    id: int
    organisation_id: int
    organisation_name: str
    instrument: str
    ownership_pct: Decimal
    post_money_valuation: Decimal
    invested_on: dt.date
    status: str
    cost: Decimal
    value: Decimal
    realised: Decimal


class FundDetailOut(FundOut):
    holdings: list[HoldingOut]


class EntryOut(Schema):
    id: int
    kind: str
    amount: Decimal
    currency: str
    occurred_on: dt.date
    holding_id: int | None
    counterparty_id: int | None
    original_amount: Decimal | None
    original_currency: str
    fx_rate: Decimal | None
    reference: str
    memo: str


class FundIn(Schema):
    name: str
    currency: str = "USD"
    description: str = ""
    committed_capital: Decimal | None = None
    committed_on: dt.date | None = None
    counterparty_id: int | None = None


class MoneyIn(Schema):
    amount: Decimal
    on: dt.date
    currency: str | None = None
    fx_rate: Decimal | None = None
    memo: str = ""


class CommitmentIn(MoneyIn):
    counterparty_id: int | None = None


class InvestmentIn(MoneyIn):
    organisation_id: int
    equity_pct: Decimal
    instrument: str = "equity"


class WriteOffIn(Schema):
    on: dt.date
    memo: str = ""


class ValuationIn(Schema):
    value: Decimal
    as_of: dt.date
    note: str = ""


class ProjectionOut(Schema):
    available: Decimal
    currency: str
    award_amount: Decimal
    award_currency: str
    awards: int


def _fund_out(fund: Fund) -> FundOut:
    b = selectors.fund_balances(fund=fund)
    return FundOut(
        id=fund.pk,
        name=fund.name,
        currency=fund.currency,
        description=fund.description,
        balances=BalancesOut(**b.__dict__),
    )


def _holdings(fund: Fund) -> list[HoldingOut]:
    return [
        HoldingOut(
            id=r.holding.pk,
            organisation_id=r.holding.organisation_id,
            organisation_name=r.holding.organisation.name,
            instrument=r.holding.instrument,
            ownership_pct=r.holding.ownership_pct,
            post_money_valuation=r.holding.post_money_valuation,
            invested_on=r.holding.invested_on,
            status=r.holding.status,
            cost=r.cost,
            value=r.value,
            realised=r.realised,
        )
        for r in selectors.holding_rows(fund=fund)
    ]


def _entry_out(e: LedgerEntry) -> EntryOut:
    return EntryOut(
        id=e.pk,
        kind=e.kind,
        amount=e.amount,
        currency=e.fund.currency,
        occurred_on=e.occurred_on,
        holding_id=e.holding_id,
        counterparty_id=e.counterparty_id,
        original_amount=e.original_amount,
        original_currency=e.original_currency,
        fx_rate=e.fx_rate,
        reference=e.reference,
        memo=e.memo,
    )


@router.get("/funds", response=list[FundOut], summary="Funds visible to me, with balances")
def fund_list(request: HttpRequest) -> list[FundOut]:
    return [_fund_out(f) for f in selectors.fund_list_visible_to(_user(request))]


@router.post("/funds", response={201: FundDetailOut})
def fund_create(request: HttpRequest, payload: FundIn) -> Status[Any]:
    actor = _user(request)
    lp = access_organisation(actor, payload.counterparty_id) if payload.counterparty_id else None
    fund = services.fund_create(
        actor=actor,
        name=payload.name,
        currency=payload.currency,
        description=payload.description,
        committed_capital=payload.committed_capital,
        committed_on=payload.committed_on,
        counterparty=lp,
    )
    return Status(201, FundDetailOut(**_fund_out(fund).dict(), holdings=[]))


@router.get("/funds/{fund_id}", response=FundDetailOut)
def fund_detail(request: HttpRequest, fund_id: int) -> FundDetailOut:
    fund = selectors.access_fund(_user(request), fund_id)
    return FundDetailOut(**_fund_out(fund).dict(), holdings=_holdings(fund))


@router.get("/funds/{fund_id}/ledger", response=list[EntryOut])
def fund_ledger(request: HttpRequest, fund_id: int) -> list[EntryOut]:
    fund = selectors.access_fund(_user(request), fund_id)
    return [_entry_out(e) for e in selectors.ledger_list(fund=fund).select_related("fund")]


@router.get("/funds/{fund_id}/projection", response=ProjectionOut)
def fund_projection(
    request: HttpRequest,
    fund_id: int,
    award_amount: Decimal = Decimal("100000"),
    award_currency: str = "USD",
    fx_rate: Decimal | None = None,
) -> ProjectionOut:
    """How many awards of ``award_amount`` the available cash pays for."""
    fund = selectors.access_fund(_user(request), fund_id)
    n = selectors.fund_projection(
        fund=fund, award_amount=award_amount, award_currency=award_currency.upper(), fx_rate=fx_rate
    )
    return ProjectionOut(
        available=selectors.fund_balances(fund=fund).available,
        currency=fund.currency,
        award_amount=award_amount,
        award_currency=award_currency.upper(),
        awards=n,
    )


@router.post("/funds/{fund_id}/commitments", response={201: EntryOut})
def commitment_create(request: HttpRequest, fund_id: int, payload: CommitmentIn) -> Status[Any]:
    actor = _user(request)
    fund = selectors.access_fund(actor, fund_id, selectors.CHANGE)
    lp = access_organisation(actor, payload.counterparty_id) if payload.counterparty_id else None
    entry = services.capital_commit(
        actor=actor,
        fund=fund,
        amount=payload.amount,
        on=payload.on,
        currency=payload.currency,
        fx_rate=payload.fx_rate,
        counterparty=lp,
        memo=payload.memo,
    )
    return Status(201, _entry_out(entry))


@router.post("/funds/{fund_id}/investments", response={201: HoldingOut})
def investment_create(request: HttpRequest, fund_id: int, payload: InvestmentIn) -> Status[Any]:
    actor = _user(request)
    fund = selectors.access_fund(actor, fund_id, selectors.CHANGE)
    org = access_organisation(actor, payload.organisation_id)
    holding = services.investment_record(
        actor=actor,
        fund=fund,
        organisation=org,
        amount=payload.amount,
        equity_pct=payload.equity_pct,
        on=payload.on,
        instrument=payload.instrument,
        currency=payload.currency,
        fx_rate=payload.fx_rate,
        memo=payload.memo,
    )
    return Status(201, next(h for h in _holdings(fund) if h.id == holding.pk))


def _holding(request: HttpRequest, holding_id: int) -> Holding:
    return selectors.access_holding(_user(request), holding_id, selectors.CHANGE)


@router.post("/holdings/{holding_id}/follow-ons", response={201: EntryOut})
def follow_on_create(request: HttpRequest, holding_id: int, payload: MoneyIn) -> Status[Any]:
    entry = services.follow_on_record(
        actor=_user(request),
        holding=_holding(request, holding_id),
        amount=payload.amount,
        on=payload.on,
        currency=payload.currency,
        fx_rate=payload.fx_rate,
        memo=payload.memo,
    )
    return Status(201, _entry_out(entry))


@router.post("/holdings/{holding_id}/exit", response={201: EntryOut})
def exit_create(request: HttpRequest, holding_id: int, payload: MoneyIn) -> Status[Any]:
    """Record an exit: ``amount`` is the proceeds; they return to the fund's available cash."""
    entry = services.exit_record(
        actor=_user(request),
        holding=_holding(request, holding_id),
        proceeds=payload.amount,
        on=payload.on,
        currency=payload.currency,
        fx_rate=payload.fx_rate,
        memo=payload.memo,
    )
    return Status(201, _entry_out(entry))


@router.post("/holdings/{holding_id}/dividends", response={201: EntryOut})
def dividend_create(request: HttpRequest, holding_id: int, payload: MoneyIn) -> Status[Any]:
    entry = services.dividend_record(
        actor=_user(request),
        holding=_holding(request, holding_id),
        amount=payload.amount,
        on=payload.on,
        currency=payload.currency,
        fx_rate=payload.fx_rate,
        memo=payload.memo,
    )
    return Status(201, _entry_out(entry))


@router.post("/holdings/{holding_id}/write-off", response={201: EntryOut})
def write_off_create(request: HttpRequest, holding_id: int, payload: WriteOffIn) -> Status[Any]:
    entry = services.write_off_record(
        actor=_user(request),
        holding=_holding(request, holding_id),
        on=payload.on,
        memo=payload.memo,
    )
    return Status(201, _entry_out(entry))


@router.post("/holdings/{holding_id}/valuations", response={201: dict[str, object]})
def valuation_create(request: HttpRequest, holding_id: int, payload: ValuationIn) -> Status[Any]:
    mark = services.valuation_mark(
        actor=_user(request),
        holding=_holding(request, holding_id),
        value=payload.value,
        as_of=payload.as_of,
        note=payload.note,
    )
    return Status(
        201,
        {
            "id": mark.pk,
            "holding_id": mark.holding_id,
            "as_of": mark.as_of,
            "value": mark.value,
        },
    )
