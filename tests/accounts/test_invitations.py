"""Invitations and the roles that reach across organisations: who may invite whom as what,
consent before membership, no user lookup or email by id, and access_invitation for
every role (refusals included)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from ailab.accounts import invitations, selectors, services
from ailab.accounts.models import Invitation, InvitationStatus, Membership, Role
from ailab.common.errors import (
    Conflict,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from tests.accounts.conftest import People

EVERY_ROLE = [
    "founder", "member", "outsider", "staff", "lab_staff", "reviewer", "investor",
    "mentor", "partner", "invitee",
]  # fmt: skip
STAFF = {"staff", "lab_staff"}
CROSS = ["lab_staff", "reviewer", "mentor", "investor", "industry_partner"]


def _token(message: Any) -> str:
    found = re.search(r"/invitations/([\w-]+)/", str(message.body))
    assert found, message.body
    return found.group(1)


@pytest.mark.parametrize("who", EVERY_ROLE)
@pytest.mark.parametrize("role", [r.value for r in Role])
def test_who_may_invite_as_what(people: People, who: str, role: str) -> None:
    """Lab staff invite with any role (lab_staff only into the lab); the founder invites into
    their own startup as founder or member only; everyone else is refused (403)."""
    actor = getattr(people, who)
    org = people.lab if role == Role.LAB_STAFF else people.org
    allowed = who in STAFF or (who == "founder" and role in ("founder", "member"))
    email = f"new-{who}-{role}@example.com"
    if allowed:
        issued = invitations.invitation_create(
            actor=actor, organisation=org, email=email, role=role
        )
        assert issued.invitation.status == InvitationStatus.PENDING
        assert not Membership.objects.filter(user__email=email).exists()
    else:
        with pytest.raises(PermissionDenied):
            invitations.invitation_create(actor=actor, organisation=org, email=email, role=role)
        assert not Invitation.objects.filter(email=email).exists()


@pytest.mark.parametrize("role", CROSS)
def test_cross_organisation_roles_cannot_be_self_granted(people: People, role: str) -> None:
    """A founder who registers a startup cannot give themself (or anyone) a role that reaches
    across organisations: not by invitation, not by changing a membership."""
    org = services.organisation_create(actor=people.outsider, name="Selfie AI", kind="startup")
    own = Membership.objects.get(user=people.outsider, organisation=org)
    target = people.lab if role == Role.LAB_STAFF else org
    with pytest.raises((PermissionDenied, ValidationError)):
        invitations.invitation_create(
            actor=people.outsider, organisation=target, email=people.outsider.email, role=role
        )
    with pytest.raises((PermissionDenied, ValidationError)):
        services.membership_update(actor=people.outsider, membership=own, role=role)
    own.refresh_from_db()
    assert own.role == Role.FOUNDER
    with pytest.raises(PermissionDenied):
        services.organisation_create(actor=people.outsider, name="Fake VC", kind="investor")


def test_investor_role_cannot_be_self_granted_through_the_api(people: People) -> None:
    """Through the API too: the startup's founder asks for investor and gets 403; nothing
    changes."""
    client = Client()
    client.force_login(people.outsider)
    created = client.post(
        "/api/v1/organisations",
        {"name": "Mine", "kind": "startup"},
        content_type="application/json",
    )
    assert created.status_code == 201
    org_id = created.json()["id"]
    me = client.get("/api/v1/me").json()
    mine = next(m for m in me["memberships"] if m["organisation_id"] == org_id)
    patched = client.patch(
        f"/api/v1/memberships/{mine['id']}", {"role": "investor"}, content_type="application/json"
    )
    assert patched.status_code == 403
    invited = client.post(
        f"/api/v1/organisations/{org_id}/invitations",
        {"email": people.outsider.email, "role": "investor"},
        content_type="application/json",
    )
    assert invited.status_code == 403
    assert not Membership.objects.filter(user=people.outsider, role=Role.INVESTOR).exists()


def test_founder_invites_a_cofounder_who_accepts(
    people: People, django_capture_on_commit_callbacks: Any
) -> None:
    """The invitee gets a mail (after commit) with a link; only after accepting (signed in as
    that address) are they a founder; the link then no longer works."""
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        invitations.invitation_create(
            actor=people.founder, organisation=people.org, email="Co@Example.com", role="founder"
        )
    assert not Membership.objects.filter(user=people.outsider, organisation=people.org).exists()
    (message,) = mail.outbox
    assert message.to == ["co@example.com"]
    raw = _token(message)
    with pytest.raises(PermissionDenied):  # someone else holding the link
        invitations.invitation_accept(user=people.outsider, raw=raw)
    from tests.accounts.conftest import make_user

    cofounder = make_user("co@example.com")
    membership = invitations.invitation_accept(user=cofounder, raw=raw)
    assert membership.role == Role.FOUNDER
    assert membership.organisation == people.org
    with pytest.raises(NotFound):
        invitations.invitation_accept(user=cofounder, raw=raw)


def test_declining_enrols_nobody(people: People) -> None:
    """The invitee declines: no membership, the invitation is declined."""
    raw = invitations.invitation_create(
        actor=people.founder, organisation=people.org, email=people.outsider.email, role="member"
    ).raw
    invitations.invitation_decline(user=people.outsider, raw=raw)
    assert not Membership.objects.filter(user=people.outsider, organisation=people.org).exists()
    assert Invitation.objects.get(email=people.outsider.email).status == InvitationStatus.DECLINED


def test_bad_invitations_name_the_field(people: People) -> None:
    """Bad address → 422 email; unknown role → 422 role; an existing member → 409 email."""
    with pytest.raises(ValidationError) as bad:
        invitations.invitation_create(
            actor=people.staff, organisation=people.org, email="not-an-address", role="member"
        )
    assert bad.value.field == "email"
    with pytest.raises(ValidationError) as role:
        invitations.invitation_create(
            actor=people.staff, organisation=people.org, email="a@example.com", role="wizard"
        )
    assert role.value.field == "role"
    with pytest.raises(Conflict) as dup:
        invitations.invitation_create(
            actor=people.staff, organisation=people.org, email=people.member.email, role="member"
        )
    assert dup.value.field == "email"


def test_expired_invitation_is_not_found(people: People) -> None:
    """An expired link answers 'no such invitation', and accepting it enrols nobody."""
    issued = invitations.invitation_create(
        actor=people.founder, organisation=people.org, email=people.outsider.email, role="member"
    )
    from django.utils import timezone

    Invitation.objects.filter(pk=issued.invitation.pk).update(expires_at=timezone.now())
    with pytest.raises(NotFound):
        invitations.invitation_accept(user=people.outsider, raw=issued.raw)
    assert not Membership.objects.filter(user=people.outsider, organisation=people.org).exists()


@pytest.mark.parametrize("who", EVERY_ROLE)
def test_access_invitation_by_role(people: People, who: str) -> None:
    """An invitation is seen (and revoked) by lab staff and the organisation's founders; for
    everyone else, the invitee included, it does not exist (404)."""
    invitation = Invitation.objects.get(email=people.invitee.email)
    user = getattr(people, who)
    if who in STAFF or who == "founder":
        assert invitations.access_invitation(user, invitation.pk) == invitation
        assert invitation in invitations.invitation_list_visible_to(user)
    else:
        with pytest.raises(NotFound):
            invitations.access_invitation(user, invitation.pk)
        assert invitation not in invitations.invitation_list_visible_to(user)


@pytest.mark.parametrize("who", ["anonymous", "inactive"])
def test_access_invitation_needs_an_active_account(people: People, who: str) -> None:
    """Anonymous and deactivated users are refused before anything is looked up."""
    invitation = Invitation.objects.get(email=people.invitee.email)
    with pytest.raises(NotAuthenticated):
        invitations.access_invitation(getattr(people, who), invitation.pk)


@pytest.mark.parametrize("who", EVERY_ROLE)
def test_nobody_but_staff_looks_users_up(people: People, who: str) -> None:
    """access_user: yourself, or anyone for lab staff; others are 'no such user' (404), and
    user_search (the people page) is lab staff's only."""
    user = getattr(people, who)
    if who in STAFF:
        assert selectors.access_user(user, people.member.pk) == people.member
        assert people.member in selectors.user_search(user, q="member@")
    else:
        assert selectors.access_user(user, user.pk) == user
        with pytest.raises(NotFound):
            selectors.access_user(user, people.member.pk if who != "member" else people.founder.pk)
        with pytest.raises(PermissionDenied):
            selectors.user_search(user, q="member")


@pytest.mark.parametrize("who", EVERY_ROLE)
def test_no_endpoint_reveals_emails_by_id(people: People, who: str) -> None:
    """Memberships show emails only to lab staff and to the member themself; direct
    enrolment by user id is refused to non-staff without revealing the user's email."""
    client = Client()
    user = getattr(people, who)
    client.force_login(user)
    listed = client.get(f"/api/v1/memberships?organisation_id={people.org.pk}").json()
    for m in listed:
        if who in STAFF or m["user_id"] == user.pk:
            assert m["user_email"]
        else:
            assert m["user_email"] is None
    body = {"user_id": people.investor.pk, "role": "member"}
    response = client.post(
        f"/api/v1/organisations/{people.org.pk}/memberships", body, content_type="application/json"
    )
    if who in STAFF:
        assert response.status_code == 201
    else:
        assert response.status_code in (403, 404)
        assert b"investor@example.com" not in response.content
        assert not Membership.objects.filter(user=people.investor, organisation=people.org).exists()
