"""The fund's ledger: entries, holdings, marks, and the metrics derived from them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ailab.accounts.models import OrganisationKind
from ailab.common.errors import (
    Conflict,
    InvalidTransition,
    PermissionDenied,
    QuotaExceeded,
    ValidationError,
)
from ailab.fund import selectors, services
from ailab.fund.models import EntryKind, Holding, HoldingStatus, LedgerEntry
from tests.fund import factories

pytestmark = pytest.mark.django_db
D = dt.date


def _snapshot(fund):  # type: ignore[no-untyped-def]
    return (LedgerEntry.objects.filter(fund=fund).count(), Holding.objects.count())


def test_investment_records_holding_and_entry(staff) -> None:  # type: ignore[no-untyped-def]
    """US$100,000 for 6%: a holding at post-money US$1,666,666.67 and one entry out."""
    fund = factories.fund(staff, "500000")
    org = factories.organisation("VisionLoop")
    holding = services.investment_record(
        actor=staff,
        fund=fund,
        organisation=org,
        amount="100000",
        equity_pct="6",
        on=D(2025, 1, 10),
    )
    holding.refresh_from_db()
    assert holding.post_money_valuation == Decimal("1666666.67")
    assert holding.ownership_pct == Decimal("6")
    b = selectors.fund_balances(fund=fund)
    assert (b.committed, b.deployed, b.available) == (
        Decimal("500000"),
        Decimal("100000"),
        Decimal("400000"),
    )


@pytest.mark.parametrize("pct", ["0", "100", "-5", "100.01"])
def test_equity_outside_range_leaves_ledger_unchanged(staff, pct) -> None:  # type: ignore[no-untyped-def]
    """Equity outside (0, 100) is refused naming equity_pct; nothing is written."""
    fund = factories.fund(staff, "500000")
    before = _snapshot(fund)
    with pytest.raises(ValidationError) as err:
        services.investment_record(
            actor=staff,
            fund=fund,
            organisation=factories.organisation(),
            amount="100000",
            equity_pct=pct,
            on=D(2025, 1, 1),
        )
    assert err.value.field == "equity_pct"
    assert _snapshot(fund) == before


def test_investment_beyond_cash_is_refused_with_reason(staff) -> None:  # type: ignore[no-untyped-def]
    """Investing more than the available cash raises QuotaExceeded naming amount."""
    fund = factories.fund(staff, "50000")
    before = _snapshot(fund)
    with pytest.raises(QuotaExceeded) as err:
        services.investment_record(
            actor=staff,
            fund=fund,
            organisation=factories.organisation(),
            amount="100000",
            equity_pct="6",
            on=D(2025, 1, 1),
        )
    assert err.value.field == "amount"
    assert "US$50,000.00 available" in err.value.reason
    assert _snapshot(fund) == before


def test_hkd_entry_needs_rate_and_keeps_original(staff) -> None:  # type: ignore[no-untyped-def]
    """A commitment in HKD to a USD fund needs fx_rate and keeps the original amount."""
    fund = factories.fund(staff, "0.01")
    with pytest.raises(ValidationError) as err:
        services.capital_commit(
            actor=staff, fund=fund, amount="780000", currency="HKD", on=D(2025, 1, 1)
        )
    assert err.value.field == "fx_rate"
    entry = services.capital_commit(
        actor=staff,
        fund=fund,
        amount="780000",
        currency="HKD",
        fx_rate="0.128205",
        on=D(2025, 1, 1),
    )
    assert entry.amount == Decimal("99999.90")
    assert entry.original_amount == Decimal("780000.00")
    assert entry.original_currency == "HKD"


def test_exit_dividend_write_off_and_metrics(staff) -> None:  # type: ignore[no-untyped-def]
    """Exits and dividends are realised; a write-off moves no cash; marks drive unrealised."""
    fund = factories.fund(staff, "1000000", on=D(2024, 1, 1))
    a, b, c = (factories.organisation() for _ in range(3))
    ha = services.investment_record(
        actor=staff, fund=fund, organisation=a, amount="100000", equity_pct="6", on=D(2024, 1, 1)
    )
    hb = services.investment_record(
        actor=staff, fund=fund, organisation=b, amount="100000", equity_pct="6", on=D(2024, 1, 1)
    )
    hc = services.investment_record(
        actor=staff, fund=fund, organisation=c, amount="100000", equity_pct="6", on=D(2024, 1, 1)
    )
    services.follow_on_record(actor=staff, holding=hc, amount="50000", on=D(2024, 6, 1))
    services.exit_record(actor=staff, holding=ha, proceeds="400000", on=D(2025, 1, 1))
    services.dividend_record(actor=staff, holding=hb, amount="10000", on=D(2025, 1, 1))
    services.valuation_mark(actor=staff, holding=hb, value="300000", as_of=D(2025, 1, 1))
    services.write_off_record(actor=staff, holding=hc, on=D(2025, 1, 1))
    bal = selectors.fund_balances(fund=fund, as_of=D(2025, 1, 1))
    assert bal.deployed == Decimal("350000")
    assert bal.realised == Decimal("410000")
    assert bal.written_off == Decimal("150000")
    assert bal.unrealised == Decimal("300000.00")
    assert bal.available == Decimal("1060000")
    assert bal.moic == Decimal("2.03")  # (410k + 300k) / 350k
    assert bal.irr is not None
    assert bal.irr > 0
    with pytest.raises(InvalidTransition):
        services.exit_record(actor=staff, holding=ha, proceeds="1", on=D(2025, 2, 1))


def test_irr_matches_a_known_value(staff) -> None:  # type: ignore[no-untyped-def]
    """100 out on 2020-01-01 and 121 back on 2022-01-01 (731 days) is an IRR of
    1.21 ** (365 / 731) - 1 = 9.9897% (XIRR, actual/365)."""
    fund = factories.fund(staff, "1000", on=D(2020, 1, 1))
    h = services.investment_record(
        actor=staff,
        fund=fund,
        organisation=factories.organisation(),
        amount="100",
        equity_pct="10",
        on=D(2020, 1, 1),
    )
    services.exit_record(actor=staff, holding=h, proceeds="121", on=D(2022, 1, 1))
    irr = selectors.fund_irr(fund=fund, as_of=D(2022, 1, 1))
    assert irr == pytest.approx(1.21 ** (365 / 731) - 1, abs=1e-6)
    assert selectors.fund_balances(fund=fund, as_of=D(2022, 1, 1)).moic == Decimal("1.21")


def test_irr_is_none_without_returns(staff) -> None:  # type: ignore[no-untyped-def]
    """With only outflows and nothing left the IRR is undefined (None), not a number."""
    fund = factories.fund(staff, "1000", on=D(2020, 1, 1))
    h = services.investment_record(
        actor=staff,
        fund=fund,
        organisation=factories.organisation(),
        amount="100",
        equity_pct="10",
        on=D(2020, 1, 1),
    )
    services.write_off_record(actor=staff, holding=h, on=D(2021, 1, 1))
    assert selectors.fund_irr(fund=fund, as_of=D(2021, 6, 1)) is None


def test_projection_and_series(staff) -> None:  # type: ignore[no-untyped-def]
    """The projection counts whole awards the available cash pays for; the series is
    cumulative per ledger date."""
    fund = factories.fund(staff, "750000", on=D(2024, 1, 1))
    assert (
        selectors.fund_projection(fund=fund, award_amount=Decimal("100000"), award_currency="USD")
        == 7
    )
    hkd_awards = selectors.fund_projection(
        fund=fund, award_amount=Decimal("780000"), award_currency="HKD", fx_rate=Decimal("0.128")
    )
    assert hkd_awards == 7
    services.investment_record(
        actor=staff,
        fund=fund,
        organisation=factories.organisation(),
        amount="100000",
        equity_pct="6",
        on=D(2024, 2, 1),
    )
    series = selectors.fund_capital_series(fund=fund)
    assert [s["available"] for s in series] == [Decimal("750000"), Decimal("650000")]


def test_duplicate_holding_and_reference_conflict(staff) -> None:  # type: ignore[no-untyped-def]
    """A second investment in the same startup, or a reused reference, is a Conflict."""
    fund = factories.fund(staff, "1000000")
    org = factories.organisation()
    services.investment_record(
        actor=staff,
        fund=fund,
        organisation=org,
        amount="1",
        equity_pct="1",
        on=D(2024, 1, 1),
        reference="award:1",
    )
    with pytest.raises(Conflict):
        services.investment_record(
            actor=staff, fund=fund, organisation=org, amount="1", equity_pct="1", on=D(2024, 1, 1)
        )
    with pytest.raises(Conflict) as err:
        services.investment_record(
            actor=staff,
            fund=fund,
            organisation=factories.organisation(),
            amount="1",
            equity_pct="1",
            on=D(2024, 1, 1),
            reference="award:1",
        )
    assert err.value.field == "reference"


def test_only_staff_write_the_ledger(staff) -> None:  # type: ignore[no-untyped-def]
    """Non-staff are refused every fund write."""
    fund = factories.fund(staff, "1000")
    outsider = factories.user()
    with pytest.raises(PermissionDenied):
        services.capital_commit(actor=outsider, fund=fund, amount="1", on=D(2024, 1, 1))
    with pytest.raises(PermissionDenied):
        services.fund_create(actor=outsider, name="Mine")


def test_holding_status_and_equity_holders(staff) -> None:  # type: ignore[no-untyped-def]
    """Limited partners of a fund holding a startup hold equity in it; after exit, not."""
    lp = factories.organisation("LP", kind=OrganisationKind.INVESTOR)
    fund = factories.fund(staff, "1000", lp=lp)
    org = factories.organisation()
    h = services.investment_record(
        actor=staff, fund=fund, organisation=org, amount="100", equity_pct="10", on=D(2024, 1, 1)
    )
    assert selectors.equity_holder_organisation_ids(organisation_id=org.pk) == {lp.pk}
    services.exit_record(actor=staff, holding=h, proceeds="50", on=D(2024, 6, 1))
    h.refresh_from_db()
    assert h.status == HoldingStatus.EXITED
    assert selectors.equity_holder_organisation_ids(organisation_id=org.pk) == set()
    assert LedgerEntry.objects.filter(kind=EntryKind.EXIT_PROCEEDS).count() == 1
