"""Single sign-on through OpenID Connect (allauth's openid_connect provider, configured
like AILAB_OIDC_* does) against a real provider on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.test import Client

from ailab.accounts.models import User
from ailab.config.auth_settings import oidc_providers
from tests.accounts.oidc_provider import Provider, serve


@pytest.fixture
def provider(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Provider]:
    p = Provider(claims={
        "sub": "u-123", "email": "grace@uni.example", "email_verified": True,
        "name": "Grace Ho",
    })  # fmt: skip
    server, _ = serve(p)
    monkeypatch.setenv("AILAB_OIDC_SERVER_URL", p.url)
    monkeypatch.setenv("AILAB_OIDC_CLIENT_ID", p.client_id)
    monkeypatch.setenv("AILAB_OIDC_CLIENT_SECRET", p.client_secret)
    monkeypatch.setenv("AILAB_OIDC_NAME", "University sign-in")
    settings.SOCIALACCOUNT_PROVIDERS = oidc_providers()
    yield p
    server.shutdown()


def _sign_in(client: Client) -> Any:
    start = client.post("/accounts/oidc/sso/login/")
    assert start.status_code == 302, start.content
    authorize = start["Location"]
    answer = httpx.get(authorize, follow_redirects=False)
    assert answer.status_code == 302
    callback = answer.headers["Location"]
    path = callback.split("://", 1)[1].split("/", 1)[1]
    return client.get("/" + path)


def test_oidc_sign_in_creates_and_signs_in_the_user(db: None, provider: Provider) -> None:
    """The login page offers the provider; signing in there (discovery, authorize, token,
    RS256 id_token checked against the JWKS) creates the user with their name and signs
    them in; a second sign-in finds the same user."""
    client = Client()
    assert b"University sign-in" in client.get("/accounts/login/").content
    done = _sign_in(client)
    assert done.status_code == 302, done.content
    user = User.objects.get(email="grace@uni.example")
    assert user.full_name == "Grace Ho"
    assert client.get("/api/v1/me").json()["email"] == "grace@uni.example"
    again = Client()
    _sign_in(again)
    assert again.get("/api/v1/me").json()["id"] == user.pk
    assert User.objects.filter(email="grace@uni.example").count() == 1


def test_a_client_with_the_wrong_secret_signs_nobody_in(
    db: None, provider: Provider, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the provider refuses the code exchange (here: a wrong client secret), nobody is
    signed in and no user is created."""
    monkeypatch.setenv("AILAB_OIDC_CLIENT_SECRET", "not-the-secret")
    settings.SOCIALACCOUNT_PROVIDERS = oidc_providers()
    client = Client()
    _sign_in(client)
    assert "_auth_user_id" not in client.session
    assert not User.objects.filter(email="grace@uni.example").exists()
