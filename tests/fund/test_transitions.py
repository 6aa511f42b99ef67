"""Holdings change status only through ``holding_transition`` (declared, guarded)."""

from __future__ import annotations

import datetime as dt

import pytest

from ailab.accounts.models import User
from ailab.common.errors import InvalidTransition
from ailab.fund import services
from ailab.fund.models import Holding, HoldingStatus, holding_transition
from tests.fund import factories

pytestmark = pytest.mark.django_db


def _holding(staff: User) -> Holding:
    fund = factories.fund(staff, "1000000", on=dt.date(2024, 1, 1))
    return services.investment_record(
        actor=staff,
        fund=fund,
        organisation=factories.organisation(),
        amount="1000",
        equity_pct="1",
        on=dt.date(2024, 1, 1),
    )


def test_a_stale_writer_loses_to_the_exit(staff: User) -> None:
    """An exit closes the holding; a writer holding a copy read before it (still ACTIVE)
    cannot write it off afterwards: the guarded write returns False and the row stays EXITED."""
    holding = _holding(staff)
    stale = Holding.objects.get(pk=holding.pk)
    services.exit_record(actor=staff, holding=holding, proceeds="10", on=dt.date(2025, 1, 1))
    assert not holding_transition(
        stale, HoldingStatus.WRITTEN_OFF, expect=HoldingStatus.ACTIVE, closed_on=dt.date(2025, 2, 1)
    )
    row = Holding.objects.get(pk=holding.pk)
    assert row.status == HoldingStatus.EXITED
    assert row.closed_on == dt.date(2025, 1, 1)


def test_a_closed_holding_has_no_way_out(staff: User) -> None:
    """EXITED and WRITTEN_OFF are terminal: reopening one is an InvalidTransition."""
    holding = _holding(staff)
    services.write_off_record(actor=staff, holding=holding, on=dt.date(2025, 1, 1))
    with pytest.raises(InvalidTransition):
        holding_transition(holding, HoldingStatus.ACTIVE, expect=HoldingStatus.WRITTEN_OFF)
    assert Holding.objects.get(pk=holding.pk).status == HoldingStatus.WRITTEN_OFF
