"""Accounts services: organisations, memberships and tokens, with their refusals."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from ailab.accounts import services
from ailab.accounts.models import APIToken, Membership, Organisation, OrganisationKind, Role
from ailab.common.errors import Conflict, PermissionDenied, ValidationError
from tests.accounts.conftest import People


def test_a_user_who_registers_a_startup_becomes_its_founder(people: People) -> None:
    """Anyone may register a startup; they get the founder role in it."""
    org = services.organisation_create(actor=people.outsider, name="NewCo", kind="startup")
    assert Membership.objects.get(organisation=org).role == Role.FOUNDER
    assert org.slug == "newco"


def test_only_lab_staff_create_other_kinds(people: People) -> None:
    """A non-staff user may not create a university; staff may, without becoming a member."""
    with pytest.raises(PermissionDenied):
        services.organisation_create(actor=people.founder, name="Uni", kind="university")
    org = services.organisation_create(actor=people.staff, name="Uni", kind="university")
    assert not Membership.objects.filter(organisation=org).exists()


def test_organisation_create_rejects_bad_input_and_writes_nothing(people: People) -> None:
    """Unknown kind, empty or oversized name, duplicate name, future founding date: each names
    its field and leaves no organisation behind."""
    before = Organisation.objects.count()
    cases = [
        ({"name": "X", "kind": "pirate"}, "kind"),
        ({"name": "  ", "kind": "startup"}, "name"),
        ({"name": "x" * 201, "kind": "startup"}, "name"),
        ({"name": "visionloop", "kind": "startup"}, "name"),
        (
            {
                "name": "Later",
                "kind": "startup",
                "founded": timezone.localdate() + dt.timedelta(days=2),
            },
            "founded",
        ),
        ({"name": "Web", "kind": "startup", "website": "not a url"}, "website"),
    ]
    for kwargs, field in cases:
        with pytest.raises((ValidationError, Conflict)) as exc:
            services.organisation_create(actor=people.staff, **kwargs)
        assert exc.value.field == field, kwargs
    assert Organisation.objects.count() == before


def test_duplicate_membership_is_a_conflict(people: People) -> None:
    """A user has one membership per organisation; a second is refused with 409."""
    with pytest.raises(Conflict) as exc:
        services.membership_create(
            actor=people.staff, organisation=people.org, user=people.member, role="founder"
        )
    assert exc.value.field == "user_id"


def test_only_lab_staff_enrol_directly_founders_give_founder_or_member(people: People) -> None:
    """Direct enrolment is lab staff's (founders invite instead: nobody joins unasked); a
    founder may change a member's role between founder and member, never to a role that
    reaches across organisations."""
    with pytest.raises(PermissionDenied):
        services.membership_create(
            actor=people.founder, organisation=people.org, user=people.outsider, role="member"
        )
    assert not Membership.objects.filter(user=people.outsider, organisation=people.org).exists()
    m = services.membership_create(
        actor=people.staff, organisation=people.org, user=people.outsider, role="member"
    )
    assert services.membership_update(actor=people.founder, membership=m, role="founder").role
    for role in ("reviewer", "mentor", "investor", "industry_partner", "researcher"):
        with pytest.raises(PermissionDenied):
            services.membership_update(actor=people.founder, membership=m, role=role)
    m.refresh_from_db()
    assert m.role == Role.FOUNDER
    with pytest.raises(PermissionDenied):
        services.membership_create(
            actor=people.member, organisation=people.org, user=people.reviewer, role="member"
        )


def test_lab_staff_role_only_in_a_lab(people: People) -> None:
    """lab_staff is a role of the lab organisation; elsewhere it is invalid."""
    with pytest.raises(ValidationError) as exc:
        services.membership_create(
            actor=people.staff, organisation=people.other_org, user=people.member, role="lab_staff"
        )
    assert exc.value.field == "role"


def test_lab_staff_membership_grants_staff_powers(people: People) -> None:
    """A lab_staff member of the lab organisation may create any kind of organisation."""
    org = services.organisation_create(
        actor=people.lab_staff, name="Gov", kind=OrganisationKind.GOVERNMENT
    )
    assert org.kind == "government"


def test_token_is_shown_once_stored_hashed_and_authenticates(people: People) -> None:
    """The raw token is returned once; only its digest is stored; it authenticates until
    revoked, and revoking twice is harmless."""
    issued = services.token_create(actor=people.member, name="laptop")
    stored = APIToken.objects.get(pk=issued.token.pk)
    assert issued.raw not in (stored.digest, stored.prefix)
    assert issued.raw.startswith(stored.prefix)
    assert services.token_authenticate(raw=issued.raw) == people.member
    stored.refresh_from_db()
    assert stored.last_used_at is not None
    services.token_revoke(actor=people.member, token=stored)
    first_revoked_at = APIToken.objects.get(pk=stored.pk).revoked_at
    services.token_revoke(actor=people.member, token=stored)
    assert APIToken.objects.get(pk=stored.pk).revoked_at == first_revoked_at
    assert services.token_authenticate(raw=issued.raw) is None
    assert services.token_authenticate(raw="ailab_wrong") is None


def test_tokens_of_inactive_users_do_not_authenticate(people: People) -> None:
    """A deactivated user's tokens stop working at once."""
    issued = services.token_create(actor=people.staff, user=people.member, name="x")
    people.member.is_active = False
    people.member.save()
    assert services.token_authenticate(raw=issued.raw) is None


def test_only_staff_create_tokens_for_others(people: People) -> None:
    """A user creates tokens for themself; for someone else only lab staff may."""
    with pytest.raises(PermissionDenied):
        services.token_create(actor=people.founder, user=people.member, name="x")
    assert (
        services.token_create(actor=people.staff, user=people.member, name="x").token.user
        == people.member
    )
