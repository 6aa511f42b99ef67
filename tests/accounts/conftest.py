from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import AnonymousUser

from ailab.accounts import invitations
from ailab.accounts.models import Membership, Organisation, OrganisationKind, Role, User


@dataclass
class People:
    """An organisation (a startup) and one person in each position relative to it."""

    org: Organisation
    other_org: Organisation
    lab: Organisation
    founder: User
    member: User
    outsider: User  # a user of the lab with no tie to ``org``
    staff: User  # Django is_staff
    lab_staff: User  # lab_staff role in the lab organisation, not is_staff
    reviewer: User
    investor: User
    inactive: User
    mentor: User  # mentor role in the lab organisation (reaches across organisations)
    partner: User  # industry partner at a company
    invitee: User  # has a pending invitation to ``org``, not (yet) a member
    anonymous: AnonymousUser


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    """allauth keeps its rate limits (30 sign-ins a minute per address...) in the cache,
    which outlives each test's database: start every test with none."""
    from django.core.cache import cache

    cache.clear()


def make_user(email: str, **extra: object) -> User:
    """A user whose address is verified (as the lab's own user_create makes them)."""
    from allauth.account.models import EmailAddress

    user = User.objects.create_user(email=email, password="pw-123456-test", **extra)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


@pytest.fixture
def people(db: None) -> People:
    org = Organisation.objects.create(
        name="VisionLoop", slug="visionloop", kind=OrganisationKind.STARTUP
    )
    other = Organisation.objects.create(
        name="MedSight", slug="medsight", kind=OrganisationKind.STARTUP
    )
    lab = Organisation.objects.create(name="The Lab", slug="the-lab", kind=OrganisationKind.LAB)
    vc = Organisation.objects.create(
        name="Harbour VC", slug="harbour", kind=OrganisationKind.INVESTOR
    )
    p = People(
        org=org,
        other_org=other,
        lab=lab,
        founder=make_user("founder@example.com"),
        member=make_user("member@example.com"),
        outsider=make_user("outsider@example.com"),
        staff=make_user("staff@example.com", is_staff=True),
        lab_staff=make_user("labstaff@example.com"),
        reviewer=make_user("reviewer@example.com"),
        investor=make_user("investor@example.com"),
        inactive=make_user("gone@example.com", is_active=False),
        mentor=make_user("mentor@example.com"),
        partner=make_user("partner@example.com"),
        invitee=make_user("invitee@example.com"),
        anonymous=AnonymousUser(),
    )
    company = Organisation.objects.create(
        name="Harbour Robotics", slug="harbour-robotics", kind=OrganisationKind.COMPANY
    )
    Membership.objects.create(user=p.founder, organisation=org, role=Role.FOUNDER)
    Membership.objects.create(user=p.member, organisation=org, role=Role.MEMBER)
    Membership.objects.create(user=p.outsider, organisation=other, role=Role.FOUNDER)
    Membership.objects.create(user=p.lab_staff, organisation=lab, role=Role.LAB_STAFF)
    Membership.objects.create(user=p.reviewer, organisation=lab, role=Role.REVIEWER)
    Membership.objects.create(user=p.investor, organisation=vc, role=Role.INVESTOR)
    Membership.objects.create(user=p.inactive, organisation=org, role=Role.MEMBER)
    Membership.objects.create(user=p.mentor, organisation=lab, role=Role.MENTOR)
    Membership.objects.create(user=p.partner, organisation=company, role=Role.INDUSTRY_PARTNER)
    invitations.invitation_create(
        actor=p.founder, organisation=org, email=p.invitee.email, role=Role.MEMBER
    )
    return p
