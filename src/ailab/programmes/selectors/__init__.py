"""Reads for programmes: access_<entity>, lists, the ranking, the home panel."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from ailab.accounts.models import User
from ailab.fund import selectors as fund_selectors
from ailab.programmes.models import Application, ApplicationStatus, Intake, Programme
from ailab.programmes.selectors.access import (
    CHANGE,
    VIEW,
    access_application,
    access_assignment,
    access_attachment,
    access_check_in,
    access_cohort,
    access_demo_day,
    access_intake,
    access_participation,
    access_programme,
    access_review,
    application_list_visible_to,
    assignment_list_for,
    cohort_list_visible_to,
    participation_list_visible_to,
    participation_private_visible,
    review_list_visible_to,
)
from ailab.programmes.selectors.conflicts import conflict_map, conflict_reason, reviewer_pool
from ailab.programmes.selectors.ranking import RankRow, intake_ranking

__all__ = [
    "CHANGE",
    "VIEW",
    "RankRow",
    "access_application",
    "access_assignment",
    "access_attachment",
    "access_check_in",
    "access_cohort",
    "access_demo_day",
    "access_intake",
    "access_participation",
    "access_programme",
    "access_review",
    "application_list_visible_to",
    "assignment_list_for",
    "cohort_list_visible_to",
    "conflict_map",
    "conflict_reason",
    "home_panel",
    "intake_fundable",
    "intake_list_open",
    "intake_list_public",
    "intake_ranking",
    "participation_list_visible_to",
    "participation_private_visible",
    "pipeline_board",
    "programme_list",
    "review_list_visible_to",
    "reviewer_pool",
]


def programme_list() -> QuerySet[Programme]:
    return Programme.objects.all()


def intake_list_public() -> QuerySet[Intake]:
    return Intake.objects.select_related("programme").order_by("-opens_at")


def intake_list_open() -> QuerySet[Intake]:
    now = timezone.now()
    return intake_list_public().filter(opens_at__lte=now, closes_at__gt=now).order_by("closes_at")


def intake_fundable(*, intake: Intake) -> int | None:
    """How many of this intake's awards the fund's available cash pays for now (None when
    the intake has no funding)."""
    if intake.fund is None or intake.funding_amount <= 0:
        return None
    return fund_selectors.fund_projection(
        fund=intake.fund,
        award_amount=intake.funding_amount,
        award_currency=intake.funding_currency,
        fx_rate=intake.funding_fx_rate,
    )


def pipeline_board(*, intake: Intake) -> list[dict[str, Any]]:
    """Applications per status column (drafts excluded), for the staff board."""
    columns = [s for s in ApplicationStatus if s != ApplicationStatus.DRAFT]
    apps = list(
        Application.objects.filter(intake=intake)
        .exclude(status=ApplicationStatus.DRAFT)
        .select_related("organisation")
    )
    return [
        {"status": s.value, "label": s.label, "applications": [a for a in apps if a.status == s]}
        for s in columns
    ]


def home_panel(*, user: User) -> dict[str, Any]:
    """Open calls for everyone; the user's own applications when logged in."""
    mine: list[Application] = []
    if user.is_authenticated:
        mine = list(
            Application.objects.filter(organisation__memberships__user=user)
            .select_related("intake", "organisation")
            .distinct()[:10]
        )
    return {
        "template": "programmes/_home_panel.html",
        "open_intakes": list(intake_list_open()[:10]),
        "my_applications": mine,
    }
