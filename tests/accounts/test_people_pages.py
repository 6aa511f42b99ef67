"""Pages: registering a startup, organisation members and invitations, staff people pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client

from ailab.accounts.models import Membership, Organisation, Role, User
from ailab.accounts.posix import posix_account_of
from tests.accounts.conftest import People


def _client(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def test_a_user_registers_a_startup_and_becomes_its_founder(people: People) -> None:
    """The form creates a startup with the user as founder; a name with a zero-width space
    is refused naming the field, and nothing is created."""
    client = _client(people.outsider)
    response = client.post("/organisations/new/", {"name": "Tidal Labs", "description": "x"})
    assert response.status_code == 302
    org = Organisation.objects.get(name="Tidal Labs")
    assert org.kind == "startup"
    assert Membership.objects.get(organisation=org).role == Role.FOUNDER
    bad = client.post("/organisations/new/", {"name": "Tidal\u200bLabs"}, HTTP_REFERER="")
    assert bad.status_code == 422
    assert b"control or format characters" in bad.content
    assert not Organisation.objects.filter(name="Tidal\u200bLabs").exists()


@pytest.mark.parametrize(
    ("who", "status"),
    [("founder", 200), ("member", 200), ("staff", 200), ("outsider", 403), ("investor", 403)],
)
def test_members_page_by_role(people: People, who: str, status: int) -> None:
    """Members see their organisation's members; outsiders (even an investor) do not."""
    response = _client(getattr(people, who)).get(f"/organisations/{people.org.pk}/members/")
    assert response.status_code == status


def test_founder_invites_from_the_members_page(
    people: People, django_capture_on_commit_callbacks: Any
) -> None:
    """The founder's invite form offers founder and member only and mails the invitee; a
    plain member sees no form and posting is refused."""
    founder = _client(people.founder)
    page = founder.get(f"/organisations/{people.org.pk}/members/").content.decode()
    assert 'value="member"' in page
    assert 'value="founder"' in page
    assert 'value="investor"' not in page
    with django_capture_on_commit_callbacks(execute=True):
        founder.post(
            f"/organisations/{people.org.pk}/members/", {"email": "x@example.com", "role": "member"}
        )
    assert mail.outbox[-1].to == ["x@example.com"]
    member = _client(people.member)
    assert (
        'id="invite-form"'
        not in member.get(f"/organisations/{people.org.pk}/members/").content.decode()
    )
    refused = member.post(
        f"/organisations/{people.org.pk}/members/", {"email": "y@example.com", "role": "member"}
    )
    assert refused.status_code == 403


@pytest.mark.parametrize("who", ["founder", "member", "outsider", "investor", "mentor", "partner"])
def test_people_pages_are_for_lab_staff_only(people: People, who: str) -> None:
    """Every people page refuses non-staff (403) and changes nothing."""
    client = _client(getattr(people, who))
    assert client.get("/people/").status_code == 403
    assert client.get(f"/people/{people.member.pk}/").status_code == 403
    assert client.post(f"/people/{people.member.pk}/active/", {"active": "0"}).status_code == 403
    assert client.post(f"/people/{people.member.pk}/posix/", {"username": "m"}).status_code == 403
    people.member.refresh_from_db()
    assert people.member.is_active
    assert posix_account_of(people.member) is None


@pytest.mark.parametrize("who", ["staff", "lab_staff"])
def test_staff_search_deactivate_reactivate_and_set_unix_account(people: People, who: str) -> None:
    """Staff search people (with organisations and roles), deactivate one (they can no longer
    sign in), reactivate them, and assign a Unix account."""
    client = _client(getattr(people, who))
    page = client.get("/people/", {"q": "member@"}).content.decode()
    assert "member@example.com" in page
    assert "VisionLoop" in page
    assert "founder@example.com" not in page
    client.post(f"/people/{people.member.pk}/active/", {"active": "0"})
    people.member.refresh_from_db()
    assert not people.member.is_active
    login = Client().post(
        "/accounts/login/", {"login": "member@example.com", "password": "pw-123456-test"}
    )
    assert "_auth_user_id" not in login.wsgi_request.session
    client.post(f"/people/{people.member.pk}/active/", {"active": "1"})
    people.member.refresh_from_db()
    assert people.member.is_active
    response = client.post(
        f"/people/{people.member.pk}/posix/", {"username": "member7", "uid": "61234"}
    )
    assert response.status_code == 302
    account = posix_account_of(people.member)
    assert account is not None
    assert account.username == "member7"
    assert account.uid == 61234
    assert b"member7" in client.get("/people/").content


def test_invitation_page_for_anonymous_offers_sign_in_and_sign_up(people: People) -> None:
    """Following the link signed out shows the offer with sign-in/sign-up links that come
    back to it; a wrong token is 404."""
    from ailab.accounts import invitations

    raw = invitations.invitation_create(
        actor=people.staff, organisation=people.lab, email="rev@example.com", role="reviewer"
    ).raw
    page = Client().get(f"/invitations/{raw}/")
    assert page.status_code == 200
    assert b"reviewer" in page.content
    assert b"/accounts/signup/?next=/invitations/" in page.content
    assert Client().get("/invitations/not-a-token/").status_code == 404
