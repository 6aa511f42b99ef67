"""The demo lab, built through the services (never raw inserts) and idempotent.

Each domain app contributes through ``ailab.<app>.demo.demo_build_part(ctx)`` once
it lands; this module builds the people and organisations they share.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from ailab.accounts.models import Membership, Organisation, OrganisationKind, Role, User
from ailab.accounts.services import membership_create, organisation_create, user_create

DEMO_PASSWORD_ENV = "AILAB_DEMO_PASSWORD"
LAB_NAME = "HK AI Lab"
PARTS = ["ailab.compute.demo", "ailab.fund.demo", "ailab.programmes.demo"]


@dataclass
class DemoContext:
    staff: User
    lab: Organisation
    users: dict[str, User] = field(default_factory=dict)
    organisations: dict[str, Organisation] = field(default_factory=dict)
    progress: bool = True

    def say(self, text: str) -> None:
        if self.progress:
            print(f"demo: {text}", flush=True)


PEOPLE = [
    # email, name, organisation, kind, role
    ("founder@visionloop.ai", "Chan Tai Man", "VisionLoop", OrganisationKind.STARTUP, Role.FOUNDER),
    ("cto@visionloop.ai", "Wong Ka Yan", "VisionLoop", OrganisationKind.STARTUP, Role.MEMBER),
    ("founder@medsight.hk", "Lee Siu Ming", "MedSight", OrganisationKind.STARTUP, Role.FOUNDER),
    (
        "prof@hku.example",
        "Prof. Cheung",
        "University of Hong Kong",
        OrganisationKind.UNIVERSITY,
        Role.RESEARCHER,
    ),
    (
        "student@hku.example",
        "Ho Wing",
        "University of Hong Kong",
        OrganisationKind.UNIVERSITY,
        Role.STUDENT,
    ),
    (
        "reviewer@sensetime.example",
        "Reviewer Lam",
        "SenseTime",
        OrganisationKind.COMPANY,
        Role.REVIEWER,
    ),
    (
        "reviewer@alibaba.example",
        "Reviewer Ng",
        "Alibaba Cloud",
        OrganisationKind.COMPANY,
        Role.REVIEWER,
    ),
    (
        "partner@hkstp.example",
        "Partner Yip",
        "HKSTP",
        OrganisationKind.GOVERNMENT,
        Role.INDUSTRY_PARTNER,
    ),
    (
        "investor@harbourvc.example",
        "Investor Tse",
        "Harbour Ventures",
        OrganisationKind.INVESTOR,
        Role.INVESTOR,
    ),
]


def demo_password() -> str:
    """The demo users' password: AILAB_DEMO_PASSWORD, else a fixed development value."""
    return os.environ.get(DEMO_PASSWORD_ENV, "ailab-demo")


def _user(email: str, name: str, *, staff: bool = False) -> User:
    existing = User.objects.filter(email=email).first()
    return existing or user_create(
        email=email, password=demo_password(), full_name=name, is_staff=staff
    )


@transaction.atomic
def _people(progress: bool) -> DemoContext:
    staff = _user("staff@ailab.local", "Lab Staff", staff=True)
    lab = Organisation.objects.filter(name=LAB_NAME).first() or organisation_create(
        actor=staff, name=LAB_NAME, kind=OrganisationKind.LAB,
        description="The shared AI lab: accelerator, GPU cluster, talent programmes.",
    )  # fmt: skip
    if not Membership.objects.filter(user=staff, organisation=lab).exists():
        membership_create(actor=staff, organisation=lab, user=staff, role=Role.LAB_STAFF)
    ctx = DemoContext(staff=staff, lab=lab, progress=progress)
    for email, name, org_name, kind, role in PEOPLE:
        user = _user(email, name)
        org = Organisation.objects.filter(name=org_name).first() or organisation_create(
            actor=staff, name=org_name, kind=kind
        )
        if not Membership.objects.filter(user=user, organisation=org).exists():
            membership_create(actor=staff, organisation=org, user=user, role=role)
        ctx.users[email] = user
        ctx.organisations[org_name] = org
    return ctx


def demo_build(*, progress: bool = True) -> dict[str, Any]:
    """Build (or complete) the demo lab and return a summary of it."""
    ctx = _people(progress)
    ctx.say(f"people and organisations ready; log in as staff@ailab.local (${DEMO_PASSWORD_ENV})")
    summary: dict[str, Any] = {}
    for module_name in PARTS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        summary.update(module.demo_build_part(ctx))
    # Counted last, so a second run (which adds nothing) reports the same lab.
    summary["users"] = User.objects.count()
    summary["organisations"] = Organisation.objects.count()
    return summary
