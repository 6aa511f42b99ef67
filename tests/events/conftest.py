"""Fixtures for events: an organiser organisation with its founder, lab staff, people."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.utils import timezone

from ailab.accounts.models import Membership, Organisation, OrganisationKind, Role, User
from ailab.events import services
from ailab.events.models import Event, EventKind, Session


def person(email: str, **extra: object) -> User:
    return User.objects.create_user(
        email, "pw-events-123!", full_name=email.split("@")[0].title(), **extra
    )


def member(user: User, org: Organisation, role: str) -> Membership:
    return Membership.objects.create(user=user, organisation=org, role=role)


@dataclass
class Lab:
    staff: User
    lab_role_staff: User
    organiser: User  # founder of the organising university
    org_member: User  # plain member of the organising university
    outsider_founder: User  # founder of another organisation
    stranger: User
    university: Organisation
    association: Organisation
    other: Organisation

    def event(self, **kwargs: object) -> Event:
        defaults: dict[str, object] = {
            "title": "Intro to LLMs", "kind": EventKind.WORKSHOP, "organisers": [self.university],
        }  # fmt: skip
        defaults.update(kwargs)
        return services.event_create(actor=self.organiser, **defaults)  # type: ignore[arg-type]

    def session(
        self, event: Event, hours_from_now: float = 1, length_h: float = 2, **kw: object
    ) -> Session:
        start = timezone.now() + dt.timedelta(hours=hours_from_now)
        return services.session_add(
            actor=self.organiser, event=event, title=kw.pop("title", "Part 1"),  # type: ignore[arg-type]
            starts_at=start, ends_at=start + dt.timedelta(hours=length_h), **kw,  # type: ignore[arg-type]
        )  # fmt: skip


@pytest.fixture
def lab(db: None) -> Lab:
    uni = Organisation.objects.create(name="PolyU", slug="polyu", kind=OrganisationKind.UNIVERSITY)
    assoc = Organisation.objects.create(
        name="HKEIA", slug="hkeia", kind=OrganisationKind.INDUSTRY_ASSOCIATION
    )
    other = Organisation.objects.create(name="Acme", slug="acme", kind=OrganisationKind.STARTUP)
    the_lab = Organisation.objects.create(name="The Lab", slug="lab", kind=OrganisationKind.LAB)
    staff = person("staff@lab.example", is_staff=True)
    lab_role = person("labrole@lab.example")
    member(lab_role, the_lab, Role.LAB_STAFF)
    organiser = person("organiser@polyu.example")
    member(organiser, uni, Role.FOUNDER)
    org_member = person("member@polyu.example")
    member(org_member, uni, Role.MEMBER)
    outsider = person("founder@acme.example")
    member(outsider, other, Role.FOUNDER)
    return Lab(
        staff=staff, lab_role_staff=lab_role, organiser=organiser, org_member=org_member,
        outsider_founder=outsider, stranger=person("stranger@example.com"),
        university=uni, association=assoc, other=other,
    )  # fmt: skip
