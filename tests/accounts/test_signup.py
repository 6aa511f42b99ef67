"""Self-registration with django-allauth: password rules, email verification, reset and
email change, all with the mail captured (Django's locmem outbox in tests)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client

from ailab.accounts.models import User
from tests.accounts.conftest import People

STRONG = "quiet-harbour-lantern-42"


def _link(message: mail.EmailMessage) -> str:
    found = re.search(r"https?://[^/\s]+(/\S+)", str(message.body))
    assert found, message.body
    return found.group(1)


def _signup(client: Client, email: str, password: str = STRONG) -> Any:
    body = {"email": email, "password1": password, "password2": password, "full_name": "Ada Li"}
    return client.post("/accounts/signup/", body)


@pytest.mark.django_db
def test_register_verify_then_sign_in() -> None:
    """Sign-up creates an inactive-until-verified account: signing in before verifying sends
    no session; the mailed link verifies the address and signs in; later sign-ins work."""
    client = Client()
    response = _signup(client, "ada@uni.example")
    assert response.status_code == 302
    user = User.objects.get(email="ada@uni.example")
    assert user.full_name == "Ada Li"
    assert not EmailAddress.objects.get(user=user).verified
    assert len(mail.outbox) == 1
    fresh = Client()
    fresh.post("/accounts/login/", {"login": "ada@uni.example", "password": STRONG})
    assert "_auth_user_id" not in fresh.session, "no session before the address is verified"
    confirm = _link(mail.outbox[-1])
    assert client.post(confirm).status_code == 302
    assert EmailAddress.objects.get(user=user).verified
    again = Client()
    ok = again.post("/accounts/login/", {"login": "ada@uni.example", "password": STRONG})
    assert ok.status_code == 302
    assert again.get("/api/v1/me").json()["email"] == "ada@uni.example"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("password", "reason"),
    [("short1", b"too short"), ("password123", b"too common"), ("839201746512", b"numeric")],
)
def test_password_rules(password: str, reason: bytes) -> None:
    """Short, common and all-digit passwords are refused with the reason; no user is made."""
    response = _signup(Client(), "weak@uni.example", password)
    assert response.status_code == 200
    assert reason in response.content
    assert not User.objects.filter(email="weak@uni.example").exists()


@pytest.mark.django_db
def test_control_characters_in_the_name_are_refused() -> None:
    """A right-to-left override in the full name is refused; nothing is written."""
    client = Client()
    body = {
        "email": "rtl@uni.example", "password1": STRONG, "password2": STRONG,
        "full_name": "Ada\u202eiL",
    }  # fmt: skip
    response = client.post("/accounts/signup/", body)
    assert response.status_code == 200
    assert b"control or format characters" in response.content
    assert not User.objects.filter(email="rtl@uni.example").exists()


def test_password_reset_by_mail(people: People) -> None:
    """A reset request mails a link; following it sets a new password that signs in. An
    unknown address gets the same answer (no enumeration) and mails nobody a link."""
    client = Client()
    assert (
        client.post("/accounts/password/reset/", {"email": "member@example.com"}).status_code == 302
    )
    unknown = Client().post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert unknown.status_code == 302
    to_member = [m for m in mail.outbox if m.to == ["member@example.com"]]
    assert len(to_member) == 1
    assert all(
        "/password/reset/key/" not in m.body for m in mail.outbox if m.to != ["member@example.com"]
    )
    page = client.get(_link(to_member[0]), follow=True)
    assert page.status_code == 200
    new = "north-pier-signal-77"
    form_url = page.redirect_chain[-1][0] if page.redirect_chain else _link(to_member[0])
    done = client.post(form_url, {"password1": new, "password2": new})
    assert done.status_code == 302
    fresh = Client()
    fresh.post("/accounts/login/", {"login": "member@example.com", "password": new})
    assert "_auth_user_id" in fresh.session


def test_email_change_needs_verification(people: People) -> None:
    """Adding an address mails a verification link; it becomes usable once verified."""
    client = Client()
    client.force_login(people.member)
    response = client.post("/accounts/email/", {"email": "new@example.com", "action_add": ""})
    assert response.status_code == 302
    added = EmailAddress.objects.get(email="new@example.com")
    assert not added.verified
    client.post(_link(mail.outbox[-1]))
    added.refresh_from_db()
    assert added.verified
