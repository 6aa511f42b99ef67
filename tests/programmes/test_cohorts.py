"""Cohorts: timeline, monthly check-ins (overdue flagged), graduation, withdrawal."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from ailab.common.errors import Conflict, InvalidTransition, PermissionDenied, ValidationError
from ailab.programmes import services
from ailab.programmes.models import Application, ApplicationStatus, ParticipationStatus
from ailab.programmes.timeline import add_months
from tests.fund import factories
from tests.programmes.conftest import answers_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def participation(staff, make_intake):  # type: ignore[no-untyped-def]
    intake = make_intake(fund=factories.fund(staff, "1000000"))
    org = factories.organisation("Cohort Co")
    founder = factories.founder(org)
    app = services.application_create(
        actor=founder, intake=intake, organisation=org, answers=answers_for(intake)
    )
    services.application_submit(actor=founder, application=app)
    Application.objects.filter(pk=app.pk).update(status=ApplicationStatus.UNDER_REVIEW)
    services.selection_decide(actor=staff, intake=intake, accept=[app.pk])
    today = timezone.localdate()
    on = add_months(today, -2) - dt.timedelta(days=1)
    p = services.award_grant(actor=staff, application=app, on=on)
    return p, founder


def test_add_months_clamps_to_month_end() -> None:
    """31 January plus one month is 28 February (29 in leap years)."""
    assert add_months(dt.date(2025, 1, 31), 1) == dt.date(2025, 2, 28)
    assert add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2025, 11, 15), 3) == dt.date(2026, 2, 15)


def test_timeline_and_overdue_check_ins(participation) -> None:  # type: ignore[no-untyped-def]
    """Six milestones and six monthly check-ins; past-due unreported ones are overdue,
    reported ones record who and when, and a second report is refused."""
    p, founder = participation
    assert p.cohort.milestones.count() == 6
    overdue = [c.month for c in p.check_ins.all() if c.is_overdue]
    assert overdue == [1, 2]
    first = p.check_ins.get(month=1)
    services.check_in_report(actor=founder, check_in=first, summary="hired two engineers")
    first.refresh_from_db()
    assert not first.is_overdue
    assert first.reported_by == founder
    with pytest.raises(Conflict):
        services.check_in_report(actor=founder, check_in=first, summary="again")
    with pytest.raises(PermissionDenied):
        services.check_in_report(
            actor=factories.user(), check_in=p.check_ins.get(month=2), summary="not my team"
        )


def test_milestone_must_fall_within_cohort(participation, staff) -> None:  # type: ignore[no-untyped-def]
    """A milestone outside the cohort's dates is refused naming due_on."""
    p, _ = participation
    with pytest.raises(ValidationError) as err:
        services.milestone_add(
            actor=staff,
            cohort=p.cohort,
            title="Late",
            due_on=p.cohort.ends_on + dt.timedelta(days=1),
        )
    assert err.value.field == "due_on"


def test_graduation_starts_incubation(participation, staff, incubation) -> None:  # type: ignore[no-untyped-def]
    """Graduating ends the accelerator participation and starts one in incubation that
    keeps the fund holding; graduating twice is an invalid transition."""
    p, _ = participation
    nxt = services.participation_graduate(actor=staff, participation=p)
    p.refresh_from_db()
    assert p.status == ParticipationStatus.GRADUATED
    assert nxt.programme == incubation
    assert nxt.previous == p
    assert nxt.holding_id == p.holding_id
    assert nxt.ends_on == add_months(nxt.starts_on, 24)
    with pytest.raises(InvalidTransition):
        services.participation_graduate(actor=staff, participation=p)


def test_graduation_needs_an_incubation_programme(participation, staff) -> None:  # type: ignore[no-untyped-def]
    """Without an incubation programme graduation is refused and nothing changes."""
    p, _ = participation
    with pytest.raises(ValidationError) as err:
        services.participation_graduate(actor=staff, participation=p)
    assert err.value.field == "programme_id"
    p.refresh_from_db()
    assert p.status == ParticipationStatus.ACTIVE


def test_withdrawal(participation) -> None:  # type: ignore[no-untyped-def]
    """The founder withdraws the team: the participation ends and open check-ins go."""
    p, founder = participation
    services.participation_withdraw(actor=founder, participation=p, reason="pivot")
    p.refresh_from_db()
    assert p.status == ParticipationStatus.WITHDRAWN
    assert p.check_ins.filter(reported_at__isnull=True).count() == 0
    with pytest.raises(InvalidTransition):
        services.application_withdraw(actor=founder, application=p.application)


def test_demo_day_invites_only_investors(participation, staff, investor) -> None:  # type: ignore[no-untyped-def]
    """Inviting someone without the investor role is refused naming investors[i]."""
    p, founder = participation
    with pytest.raises(ValidationError) as err:
        services.demo_day_schedule(
            actor=staff, cohort=p.cohort, held_at=timezone.now(), investors=[investor, founder]
        )
    assert err.value.field == "investors[1]"
    with pytest.raises(ValidationError):
        services.demo_day_schedule(
            actor=staff, cohort=p.cohort, held_at=dt.datetime(2026, 1, 1)
        )  # naive
