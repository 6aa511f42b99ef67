"""Account pages through the Django client: login, tokens (shown once), admin for staff."""

from __future__ import annotations

from django.test import Client

from ailab.accounts.models import APIToken
from tests.accounts.conftest import People


def test_login_page_signs_in_with_email(people: People) -> None:
    """The login form (allauth) takes an email and password and redirects home; a wrong
    password re-renders the form with an error."""
    client = Client()
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert b'type="email"' in page.content
    assert b"ailab.css" in page.content  # the lab's layout, not allauth's bare one
    bad = client.post("/accounts/login/", {"login": "member@example.com", "password": "nope"})
    assert bad.status_code == 200
    assert b"not correct" in bad.content
    ok = client.post(
        "/accounts/login/", {"login": "member@example.com", "password": "pw-123456-test"}
    )
    assert ok.status_code == 302
    assert client.get("/api/v1/me").json()["email"] == "member@example.com"


def test_tokens_page_shows_a_new_token_once(people: People) -> None:
    """Creating a token on the page shows it once; the list afterwards shows only its prefix;
    revoking from the page marks it revoked."""
    client = Client()
    client.force_login(people.member)
    created = client.post("/account/tokens/", {"name": "laptop"})
    token = APIToken.objects.get(user=people.member)
    assert b"shown once" in created.content
    raw = created.content.split(b'user-select-all">')[1].split(b"<")[0].decode()
    assert raw.startswith(token.prefix)
    listing = client.get("/account/tokens/")
    assert raw.encode() not in listing.content
    assert token.prefix.encode() in listing.content
    client.post(f"/account/tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_revoking_someone_elses_token_from_the_page_is_404(people: People) -> None:
    """A user cannot revoke another user's token through the page."""
    client = Client()
    client.force_login(people.founder)
    other = APIToken.objects.create(user=people.member, name="x", prefix="ailab_x", digest="d" * 64)
    assert client.post(f"/account/tokens/{other.pk}/revoke/").status_code == 404
    other.refresh_from_db()
    assert other.revoked_at is None


def test_tokens_page_needs_login(people: People) -> None:
    """Anonymous visitors are sent to the login page."""
    response = Client().get("/account/tokens/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_home_page_lists_organisations_publicly(people: People) -> None:
    """The home page is public and shows the lab's organisations."""
    page = Client().get("/")
    assert page.status_code == 200
    assert b"VisionLoop" in page.content
    assert b"htmx" in page.content


def test_admin_link_is_for_superusers_only(people: People) -> None:
    """The Admin link shows for superusers only (staff without model permissions would find
    an empty admin); staff get People instead; a founder gets neither and no admin."""
    people.staff.is_superuser = True
    people.staff.save()
    staff = Client()
    staff.force_login(people.staff)
    assert staff.get("/admin/").status_code == 200
    assert b'href="/admin/"' in staff.get("/").content
    lab_staff = Client()
    lab_staff.force_login(people.lab_staff)
    home = lab_staff.get("/").content
    assert b'href="/admin/"' not in home
    assert b'href="/people/"' in home
    founder = Client()
    founder.force_login(people.founder)
    assert founder.get("/admin/").status_code == 302
    assert b'href="/people/"' not in founder.get("/").content


def test_password_change_and_reset_pages_render(people: People) -> None:
    """allauth's password change, email change (signed in) and reset (public) pages."""
    client = Client()
    client.force_login(people.member)
    assert client.get("/accounts/password/change/").status_code == 200
    assert client.get("/accounts/email/").status_code == 200
    assert Client().get("/accounts/password/reset/").status_code == 200
