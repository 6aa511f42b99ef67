"""Writes for the fund: each cash movement is one ledger entry, written in one transaction.

Every service locks the fund row first, so two writers never both spend the same cash.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum

from ailab.accounts.models import NAME_MAX, TEXT_MAX, Organisation, User
from ailab.accounts.roles import is_lab_staff
from ailab.common.errors import (
    Conflict,
    InvalidTransition,
    PermissionDenied,
    QuotaExceeded,
    ValidationError,
)
from ailab.common.validation import full_clean_or_raise, require_text
from ailab.fund.models import (
    CASH_SIGN,
    EntryKind,
    Fund,
    Holding,
    HoldingStatus,
    Instrument,
    LedgerEntry,
    Valuation,
    holding_transition,
)
from ailab.fund.money import Money, check_currency, post_money_valuation, quantise, to_decimal


def _require_staff(actor: User, what: str) -> None:
    if not is_lab_staff(actor):
        raise PermissionDenied(f"only lab staff may {what}")


def _lock(fund: Fund) -> Fund:
    return Fund.objects.select_for_update(of=("self",)).get(pk=fund.pk)


def _cash(fund: Fund) -> Decimal:
    total = Decimal("0.00")
    for row in LedgerEntry.objects.filter(fund=fund).values("kind").annotate(s=Sum("amount")):
        total += (row["s"] or Decimal(0)) * CASH_SIGN[row["kind"]]
    return total


@dataclass(frozen=True)
class _Converted:
    amount: Decimal
    original_amount: Decimal | None
    original_currency: str
    fx_rate: Decimal | None


def _convert(
    fund: Fund, amount: object, currency: str | None, fx_rate: object | None, field: str
) -> _Converted:
    """An amount in the fund's currency; another currency needs an explicit ``fx_rate``."""
    money = Money.of(amount, currency or fund.currency, field=field)
    if money.amount <= 0:
        raise ValidationError("must be more than zero", field=field)
    if money.currency == fund.currency:
        return _Converted(money.amount, None, "", None)
    rate = None if fx_rate is None else to_decimal(fx_rate, field="fx_rate")
    converted = money.convert(fund.currency, rate)
    return _Converted(converted.amount, money.amount, money.currency, rate)


def _entry(
    *,
    fund: Fund,
    kind: str,
    converted: _Converted,
    on: dt.date,
    actor: User,
    holding: Holding | None = None,
    counterparty: Organisation | None = None,
    reference: str = "",
    memo: str = "",
) -> LedgerEntry:
    reference = require_text(reference, field="reference", max_length=100, blank=True)
    if reference and LedgerEntry.objects.filter(fund=fund, reference=reference).exists():
        raise Conflict(f"the ledger already has an entry {reference!r}", field="reference")
    entry = LedgerEntry(
        fund=fund,
        kind=kind,
        amount=converted.amount,
        original_amount=converted.original_amount,
        original_currency=converted.original_currency,
        fx_rate=converted.fx_rate,
        occurred_on=on,
        holding=holding,
        counterparty=counterparty,
        reference=reference,
        memo=require_text(memo, field="memo", max_length=500, blank=True),
        created_by=actor,
    )
    full_clean_or_raise(entry, exclude=["created_by"])
    entry.save()
    return entry


def _spend(fund: Fund, amount: Decimal, field: str) -> None:
    available = _cash(fund)
    if amount > available:
        raise QuotaExceeded(
            f"the fund has {Money(available, fund.currency)} available; "
            f"this needs {Money(amount, fund.currency)}",
            field=field,
        )


@transaction.atomic
def fund_create(
    *,
    actor: User,
    name: str,
    currency: str = "USD",
    description: str = "",
    committed_capital: object | None = None,
    committed_on: dt.date | None = None,
    counterparty: Organisation | None = None,
) -> Fund:
    """A fund, and optionally its first commitment of capital."""
    _require_staff(actor, "create a fund")
    name = require_text(name, field="name", max_length=NAME_MAX)
    if Fund.objects.filter(name__iexact=name).exists():
        raise Conflict("a fund with this name already exists", field="name")
    fund = Fund(
        name=name,
        currency=check_currency(currency),
        description=require_text(description, field="description", max_length=TEXT_MAX, blank=True),
    )
    full_clean_or_raise(fund)
    fund.save()
    if committed_capital is not None:
        if committed_on is None:
            raise ValidationError("give the date of the commitment", field="committed_on")
        capital_commit(
            actor=actor,
            fund=fund,
            amount=committed_capital,
            on=committed_on,
            counterparty=counterparty,
        )
    return fund


@transaction.atomic
def capital_commit(
    *,
    actor: User,
    fund: Fund,
    amount: object,
    on: dt.date,
    currency: str | None = None,
    fx_rate: object | None = None,
    counterparty: Organisation | None = None,
    reference: str = "",
    memo: str = "",
) -> LedgerEntry:
    """Capital committed (and paid in) by a limited partner, the ``counterparty``."""
    _require_staff(actor, "record commitments")
    fund = _lock(fund)
    converted = _convert(fund, amount, currency, fx_rate, "amount")
    return _entry(
        fund=fund,
        kind=EntryKind.COMMITMENT,
        converted=converted,
        on=on,
        actor=actor,
        counterparty=counterparty,
        reference=reference,
        memo=memo,
    )


@transaction.atomic
def investment_record(
    *,
    actor: User,
    fund: Fund,
    organisation: Organisation,
    amount: object,
    equity_pct: object,
    on: dt.date,
    instrument: str = Instrument.EQUITY,
    currency: str | None = None,
    fx_rate: object | None = None,
    reference: str = "",
    memo: str = "",
) -> Holding:
    """Invest in a startup: a holding (post-money valuation to the cent) and one entry out.

    Refused with QuotaExceeded (field ``amount``) when the fund's cash does not cover it.
    """
    _require_staff(actor, "record investments")
    pct = to_decimal(equity_pct, field="equity_pct")
    if not (Decimal(0) < pct < Decimal(100)):
        raise ValidationError("must be between 0 and 100 (exclusive)", field="equity_pct")
    if instrument not in Instrument.values:
        raise ValidationError(f"one of: {', '.join(Instrument.values)}", field="instrument")
    fund = _lock(fund)
    converted = _convert(fund, amount, currency, fx_rate, "amount")
    if Holding.objects.filter(fund=fund, organisation=organisation).exists():
        raise Conflict(
            f"the fund already holds {organisation.name}; record a follow-on",
            field="organisation",
        )
    _spend(fund, converted.amount, "amount")
    holding = Holding(
        fund=fund,
        organisation=organisation,
        instrument=instrument,
        ownership_pct=pct,
        post_money_valuation=post_money_valuation(converted.amount, pct),
        invested_on=on,
    )
    full_clean_or_raise(holding)
    holding.save()
    _entry(
        fund=fund,
        kind=EntryKind.INVESTMENT,
        converted=converted,
        on=on,
        actor=actor,
        holding=holding,
        counterparty=organisation,
        reference=reference,
        memo=memo,
    )
    return holding


def _active(holding: Holding) -> Holding:
    holding = Holding.objects.select_related("fund", "organisation").get(pk=holding.pk)
    if holding.status != HoldingStatus.ACTIVE:
        raise InvalidTransition(
            f"the holding in {holding.organisation.name} is {holding.status}", field="holding"
        )
    return holding


@transaction.atomic
def follow_on_record(
    *,
    actor: User,
    holding: Holding,
    amount: object,
    on: dt.date,
    currency: str | None = None,
    fx_rate: object | None = None,
    reference: str = "",
    memo: str = "",
) -> LedgerEntry:
    _require_staff(actor, "record follow-ons")
    fund = _lock(holding.fund)
    holding = _active(holding)
    converted = _convert(fund, amount, currency, fx_rate, "amount")
    _spend(fund, converted.amount, "amount")
    return _entry(
        fund=fund,
        kind=EntryKind.FOLLOW_ON,
        converted=converted,
        on=on,
        actor=actor,
        holding=holding,
        counterparty=holding.organisation,
        reference=reference,
        memo=memo,
    )


@transaction.atomic
def exit_record(
    *,
    actor: User,
    holding: Holding,
    proceeds: object,
    on: dt.date,
    currency: str | None = None,
    fx_rate: object | None = None,
    memo: str = "",
) -> LedgerEntry:
    """The holding is sold: proceeds come into the fund's cash, available to later intakes."""
    _require_staff(actor, "record exits")
    fund = _lock(holding.fund)
    holding = _active(holding)
    converted = _convert(fund, proceeds, currency, fx_rate, "proceeds")
    entry = _entry(
        fund=fund,
        kind=EntryKind.EXIT_PROCEEDS,
        converted=converted,
        on=on,
        actor=actor,
        holding=holding,
        counterparty=holding.organisation,
        memo=memo,
    )
    if not holding_transition(
        holding, HoldingStatus.EXITED, expect=HoldingStatus.ACTIVE, closed_on=on
    ):
        raise Conflict("the holding changed meanwhile; try again", field="holding")
    return entry


@transaction.atomic
def dividend_record(
    *,
    actor: User,
    holding: Holding,
    amount: object,
    on: dt.date,
    currency: str | None = None,
    fx_rate: object | None = None,
    memo: str = "",
) -> LedgerEntry:
    _require_staff(actor, "record dividends")
    fund = _lock(holding.fund)
    holding = _active(holding)
    converted = _convert(fund, amount, currency, fx_rate, "amount")
    return _entry(
        fund=fund,
        kind=EntryKind.DIVIDEND,
        converted=converted,
        on=on,
        actor=actor,
        holding=holding,
        counterparty=holding.organisation,
        memo=memo,
    )


@transaction.atomic
def write_off_record(*, actor: User, holding: Holding, on: dt.date, memo: str = "") -> LedgerEntry:
    """The holding is lost: an entry of its cost (no cash moves) and the holding closes."""
    _require_staff(actor, "write off holdings")
    fund = _lock(holding.fund)
    holding = _active(holding)
    cost = LedgerEntry.objects.filter(
        holding=holding, kind__in=(EntryKind.INVESTMENT, "follow_on")
    ).aggregate(s=Sum("amount"))["s"] or Decimal(0)
    entry = _entry(
        fund=fund,
        kind=EntryKind.WRITE_OFF,
        converted=_Converted(quantise(cost), None, "", None),
        on=on,
        actor=actor,
        holding=holding,
        counterparty=holding.organisation,
        memo=memo,
    )
    if not holding_transition(
        holding, HoldingStatus.WRITTEN_OFF, expect=HoldingStatus.ACTIVE, closed_on=on
    ):
        raise Conflict("the holding changed meanwhile; try again", field="holding")
    return entry


@transaction.atomic
def valuation_mark(
    *, actor: User, holding: Holding, value: object, as_of: dt.date, note: str = ""
) -> Valuation:
    """Mark a holding's value on a date (fund currency); a second mark that day replaces it."""
    _require_staff(actor, "mark valuations")
    holding = _active(holding)
    amount = quantise(to_decimal(value, field="value"))
    if amount < 0:
        raise ValidationError("cannot be negative", field="value")
    if as_of < holding.invested_on:
        raise ValidationError("cannot be before the investment", field="as_of")
    mark, _ = Valuation.objects.update_or_create(
        holding=holding,
        as_of=as_of,
        defaults={
            "value": amount,
            "note": require_text(note, field="note", max_length=500, blank=True),
        },
    )
    return mark
