"""Property: after any sequence of fund operations, every balance equals a sum over the
ledger's entries (balances are derived, never stored twice)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ailab.common.errors import DomainError
from ailab.fund import selectors, services
from ailab.fund.models import CASH_SIGN, EntryKind, Holding, HoldingStatus, LedgerEntry
from tests.fund import factories

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500000"), places=2)
ops = st.lists(
    st.tuples(
        st.sampled_from(["commit", "invest", "follow_on", "exit", "dividend", "write_off", "mark"]),
        amounts,
        st.integers(min_value=0, max_value=5),
    ),
    min_size=1,
    max_size=12,
)


def _apply(staff, fund, op, amount, pick, day):  # type: ignore[no-untyped-def]
    holdings = list(Holding.objects.filter(fund=fund, status=HoldingStatus.ACTIVE))
    h = holdings[pick % len(holdings)] if holdings else None
    if op == "commit":
        services.capital_commit(actor=staff, fund=fund, amount=amount, on=day)
    elif op == "invest":
        services.investment_record(
            actor=staff,
            fund=fund,
            organisation=factories.organisation(),
            amount=amount,
            equity_pct="6",
            on=day,
        )
    elif h is None:
        return
    elif op == "follow_on":
        services.follow_on_record(actor=staff, holding=h, amount=amount, on=day)
    elif op == "exit":
        services.exit_record(actor=staff, holding=h, proceeds=amount, on=day)
    elif op == "dividend":
        services.dividend_record(actor=staff, holding=h, amount=amount, on=day)
    elif op == "write_off":
        services.write_off_record(actor=staff, holding=h, on=day)
    else:
        services.valuation_mark(actor=staff, holding=h, value=amount, as_of=day)


@pytest.mark.django_db
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=ops)
def test_balances_equal_ledger_sums(staff, ops) -> None:  # type: ignore[no-untyped-def]
    """Whatever operations succeed or are refused, available = signed sum of entries,
    committed/deployed/realised = sums of their kinds, available never goes negative, and the
    bulk unrealised value equals the per-holding marks (or cost) summed."""
    fund = factories.fund(staff, "300000", on=dt.date(2024, 1, 1))
    for i, (op, amount, pick) in enumerate(ops):
        before = LedgerEntry.objects.filter(fund=fund).count()
        try:
            _apply(staff, fund, op, amount, pick, dt.date(2024, 1, 2) + dt.timedelta(days=i))
        except DomainError:
            # refused (beyond cash, say): nothing was written
            assert LedgerEntry.objects.filter(fund=fund).count() == before
        entries = list(LedgerEntry.objects.filter(fund=fund))
        b = selectors.fund_balances(fund=fund)

        def total(*kinds: str) -> Decimal:
            return sum((e.amount for e in entries if e.kind in kinds), Decimal(0))  # noqa: B023

        assert b.available == sum((e.amount * CASH_SIGN[e.kind] for e in entries), Decimal(0))
        assert b.committed == total(EntryKind.COMMITMENT)
        assert b.deployed == total(EntryKind.INVESTMENT, EntryKind.FOLLOW_ON)
        assert b.realised == total(EntryKind.EXIT_PROCEEDS, EntryKind.DIVIDEND)
        assert b.written_off == total(EntryKind.WRITE_OFF)
        assert b.available == b.committed - b.deployed + b.realised
        assert b.available >= 0
        assert b.recycled <= b.realised
        per_holding = sum(
            (selectors.holding_value(h) for h in Holding.objects.filter(fund=fund)), Decimal(0)
        )
        assert b.unrealised == per_holding
