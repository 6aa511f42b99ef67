"""Login throttling (django-axes): per account and per address, the 11th failed sign-in
within 15 minutes is refused, on the lab's sign-in page and on /admin/login/ alike."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.test import Client

from tests.accounts.conftest import People

PASSWORD = "pw-123456-test"


def _fail(client: Client, email: str, n: int, *, ip: str = "10.0.0.1") -> None:
    """``n`` wrong passwords. Each is checked and counted; the one that reaches the limit
    (the 10th) is answered with the lockout notice, the ones before it as a wrong password."""
    for _ in range(n):
        response = client.post(
            "/accounts/login/", {"login": email, "password": "wrong"}, REMOTE_ADDR=ip
        )
        assert response.status_code in (200, 429)


def test_eleventh_failed_login_is_refused_even_with_the_right_password(people: People) -> None:
    """Nine wrong passwords are answered as wrong, the 10th with the lockout notice; the
    11th attempt, with the right password, is refused (429) saying why; nobody is signed in."""
    client = Client()
    for i in range(10):
        r = client.post(
            "/accounts/login/", {"login": "member@example.com", "password": "wrong"},
            REMOTE_ADDR="10.0.0.1",
        )  # fmt: skip
        assert r.status_code == (200 if i < 9 else 429)
        assert (b"not correct" in r.content) == (i < 9)
    response = client.post(
        "/accounts/login/", {"login": "member@example.com", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.1",
    )  # fmt: skip
    assert response.status_code == 429
    assert b"Too many failed sign-ins" in response.content
    assert "_auth_user_id" not in client.session


def test_the_account_is_locked_from_any_address(people: People) -> None:
    """Failures spread over addresses still lock the account (per account)."""
    client = Client()
    for i in range(10):
        _fail(client, "member@example.com", 1, ip=f"10.0.1.{i}")
    response = client.post(
        "/accounts/login/", {"login": "member@example.com", "password": PASSWORD},
        REMOTE_ADDR="10.0.9.9",
    )  # fmt: skip
    assert response.status_code == 429


def test_the_address_is_locked_for_any_account(people: People) -> None:
    """Failures against many accounts from one address lock that address (per address);
    another address still signs in."""
    client = Client()
    for i in range(10):
        _fail(client, f"nobody{i}@example.com", 1, ip="10.0.2.1")
    locked = client.post(
        "/accounts/login/", {"login": "founder@example.com", "password": PASSWORD},
        REMOTE_ADDR="10.0.2.1",
    )  # fmt: skip
    assert locked.status_code == 429
    other = Client().post(
        "/accounts/login/", {"login": "founder@example.com", "password": PASSWORD},
        REMOTE_ADDR="10.0.2.2",
    )  # fmt: skip
    assert other.status_code == 302


def test_admin_login_is_throttled_too(people: People) -> None:
    """/admin/login/ counts failures and refuses the 11th like the lab's own page."""
    people.staff.is_superuser = True
    people.staff.save()
    client = Client()
    for _ in range(10):
        r = client.post(
            "/admin/login/", {"username": "staff@example.com", "password": "x"},
            REMOTE_ADDR="10.0.3.1",
        )  # fmt: skip
        assert r.status_code in (200, 429)
    response = client.post(
        "/admin/login/", {"username": "staff@example.com", "password": PASSWORD},
        REMOTE_ADDR="10.0.3.1",
    )  # fmt: skip
    assert response.status_code == 429
    assert not Client().get("/admin/").wsgi_request.user.is_authenticated


@pytest.mark.parametrize("who", ["founder", "member", "outsider", "anonymous"])
def test_only_lab_staff_see_and_clear_lockouts(people: People, who: str) -> None:
    """The lockouts page and its unlock button are lab staff's: others get 403 (or the
    sign-in page) and the lock stays."""
    _fail(Client(), "member@example.com", 10, ip="10.0.4.1")
    attempt = AccessAttempt.objects.get(username="member@example.com")
    client = Client()
    if who != "anonymous":
        client.force_login(getattr(people, who))
    assert client.get("/people/lockouts/").status_code in (302, 403)
    assert client.post(f"/people/lockouts/{attempt.pk}/clear/").status_code in (302, 403)
    assert AccessAttempt.objects.filter(pk=attempt.pk).exists()


@pytest.mark.parametrize("who", ["staff", "lab_staff"])
def test_staff_unlock_an_account(people: People, who: str) -> None:
    """Lab staff see the locked account on the lockouts page and unlock it; then the right
    password signs in again."""
    _fail(Client(), "member@example.com", 10, ip="10.0.5.1")
    staff = Client()
    staff.force_login(getattr(people, who))
    page = staff.get("/people/lockouts/")
    assert b"member@example.com" in page.content
    assert b"locked" in page.content
    attempt = AccessAttempt.objects.get(username="member@example.com")
    assert staff.post(f"/people/lockouts/{attempt.pk}/clear/").status_code == 302
    ok = Client().post(
        "/accounts/login/", {"login": "member@example.com", "password": PASSWORD},
        REMOTE_ADDR="10.0.5.1",
    )  # fmt: skip
    assert ok.status_code == 302
