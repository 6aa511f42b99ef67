from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from ailab.accounts.models import OrganisationKind, Role, User
from ailab.programmes import services
from ailab.programmes.models import Intake, Programme, ProgrammeKind
from tests.fund import factories

RUBRIC = [
    {"name": "Team", "weight": "2"},
    {"name": "Technology", "weight": "2"},
    {"name": "Market", "weight": "1"},
]


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def staff(db: None) -> User:
    return factories.user("staff@lab.example", staff=True)


@pytest.fixture
def accelerator(staff: User) -> Programme:
    return services.programme_create(
        actor=staff, name="AI Accelerator", kind=ProgrammeKind.ACCELERATOR
    )


@pytest.fixture
def incubation(staff: User) -> Programme:
    return services.programme_create(
        actor=staff, name="Incubation", kind=ProgrammeKind.INCUBATION, duration_months=24
    )


@pytest.fixture
def make_intake(staff: User, accelerator: Programme) -> Callable[..., Intake]:
    def make(fund: Any = None, **kw: Any) -> Intake:
        now = timezone.now()
        args: dict[str, Any] = {
            "actor": staff,
            "programme": accelerator,
            "title": kw.pop("title", f"Intake {now.timestamp()}"),
            "call_text": "Apply with your AI startup.",
            "opens_at": kw.pop("opens_at", now - dt.timedelta(days=1)),
            "closes_at": kw.pop("closes_at", now + dt.timedelta(days=1)),
            "capacity_min": 6,
            "capacity_max": 10,
            "terms": {
                "funding_amount": Decimal("100000"),
                "funding_currency": "USD",
                "equity_pct": Decimal("6"),
                "gpu_hours": 2000,
                "duration_months": 6,
            },
            "fund_id": fund.pk if fund else None,
            "eligibility_rules": [{"rule": "organisation_kind", "kinds": ["startup"]}],
            "criteria": RUBRIC,
            "questions": ["What do you build?", {"text": "Anything else?", "required": False}],
        }
        if fund is None:
            args["terms"] = {"gpu_hours": 500}
        args.update(kw)
        return services.intake_create(**args)

    return make


@pytest.fixture
def reviewer(db: None) -> User:
    company = factories.organisation("Reviewer Co", kind=OrganisationKind.COMPANY)
    u = factories.user("reviewer@example.com")
    factories.member(u, company, Role.REVIEWER)
    return u


@pytest.fixture
def investor(db: None) -> User:
    vc = factories.organisation("Harbour VC", kind=OrganisationKind.INVESTOR)
    u = factories.user("investor@example.com")
    factories.member(u, vc, Role.INVESTOR)
    return u


def answers_for(intake: Intake) -> dict[str, str]:
    return {str(q.pk): "We build models." for q in intake.questions.all()}


def scores_for(intake: Intake, value: int) -> dict[str, int]:
    return {c.name: value for c in intake.criteria.all()}
