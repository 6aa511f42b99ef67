"""Applications change status only through ``application_transition`` (declared, guarded)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from ailab.common.errors import InvalidTransition
from ailab.programmes import services
from ailab.programmes.models import (
    Application,
    ApplicationStatus,
    Intake,
    application_transition,
)
from tests.fund import factories
from tests.programmes.conftest import answers_for

pytestmark = pytest.mark.django_db


def _submitted(make_intake: Callable[..., Intake]) -> tuple[Application, object]:
    intake = make_intake()
    org = factories.organisation(founded=dt.date(2022, 1, 1))
    owner = factories.founder(org)
    app = services.application_create(
        actor=owner,
        intake=intake,
        organisation=org,
        answers=answers_for(intake),
        team=[{"name": "Founder", "role": "CEO"}],
    )
    return services.application_submit(actor=owner, application=app), owner


def test_withdrawing_wins_over_a_stale_review_start(make_intake: Callable[..., Intake]) -> None:
    """The applicant withdraws while a reviewer's copy still says SUBMITTED: the reviewer's
    move to UNDER_REVIEW loses (False) and the application stays WITHDRAWN."""
    app, owner = _submitted(make_intake)
    stale = Application.objects.get(pk=app.pk)
    services.application_withdraw(actor=owner, application=app)  # type: ignore[arg-type]
    assert not application_transition(
        stale, ApplicationStatus.UNDER_REVIEW, expect=ApplicationStatus.SUBMITTED
    )
    assert Application.objects.get(pk=app.pk).status == ApplicationStatus.WITHDRAWN


def test_a_submitted_application_cannot_go_back_to_draft(
    make_intake: Callable[..., Intake],
) -> None:
    """SUBMITTED -> DRAFT is not declared: InvalidTransition, and the row is unchanged."""
    app, _ = _submitted(make_intake)
    with pytest.raises(InvalidTransition):
        application_transition(app, ApplicationStatus.DRAFT, expect=ApplicationStatus.SUBMITTED)
    assert Application.objects.get(pk=app.pk).status == ApplicationStatus.SUBMITTED
