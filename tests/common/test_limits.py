"""Limits before storage and the API's error shape: uploads stop at the limit, oversized
JSON is a 413 in the JSON error shape, unauthenticated writes are 401 (not a CSRF 403),
and every page carries a Content-Security-Policy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.test import Client

from ailab.accounts import services

MIB = 1024 * 1024
CHUNK = 64 * 1024  # Django's upload chunk size


def _disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@pytest.mark.django_db(transaction=True)
def test_a_200_mb_upload_stops_at_the_limit(
    live_server: Any, settings: Any, tmp_path: Path
) -> None:
    """Streaming 200 MB at the attachment endpoint: while it is refused no more than the
    limit plus one chunk is ever on disk, the answer is 413 naming the field, and afterwards
    nothing of it is left."""
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    settings.AILAB_UPLOAD_MAX_BYTES = 10 * MIB
    user = services.user_create(email="up@lab.example", password="pw-123456-test")
    token = services.token_create(actor=user, name="t").raw
    size = 200 * MIB
    boundary = "ailabboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="deck.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    peak = [0]

    def body() -> Iterator[bytes]:
        yield head
        block = b"%PDF" + b"x" * (MIB - 4)
        for _ in range(size // MIB):
            peak[0] = max(peak[0], _disk_bytes(tmp_path))
            yield block
        yield tail

    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(len(head) + size + len(tail)),
    }
    try:
        response = httpx.post(
            f"{live_server.url}/api/v1/applications/1/attachments",
            content=body(), headers=headers, timeout=60,
        )  # fmt: skip
    except httpx.HTTPError:
        response = None  # the server stopped reading: the client may see the socket close
    assert peak[0] <= 10 * MIB + CHUNK, f"{peak[0]} bytes were on disk"
    if response is not None:
        assert response.status_code == 413
        assert response.json()["errors"][0]["field"] == "file"
    assert _disk_bytes(tmp_path) == 0


def test_oversized_json_is_a_413_in_the_json_shape(db: None, settings: Any) -> None:
    """A JSON body over DATA_UPLOAD_MAX_MEMORY_SIZE: 413 with error 'too_large' naming body."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    user = services.user_create(email="big@lab.example")
    token = services.token_create(actor=user, name="t").raw
    body = '{"name": "' + "x" * 5000 + '", "kind": "startup"}'
    response = Client().post(
        "/api/v1/organisations", body, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )  # fmt: skip
    assert response.status_code == 413
    data = response.json()
    assert data["error"] == "too_large"
    assert data["errors"][0]["field"] == "body"


def test_unauthenticated_api_writes_are_401_not_csrf(db: None) -> None:
    """No token, no session, even with a stray session cookie: POST/PATCH/DELETE are 401 in
    the JSON error shape, never 'CSRF check failed'."""
    client = Client(enforce_csrf_checks=True)
    client.cookies["sessionid"] = "not-a-session"
    for method, path in [
        ("post", "/api/v1/organisations"),
        ("patch", "/api/v1/me"),
        ("delete", "/api/v1/tokens/1"),
    ]:
        response = getattr(client, method)(path, "{}", content_type="application/json")
        assert response.status_code == 401, (path, response.content)
        assert response.json()["error"] == "not_authenticated"


def test_signed_in_api_writes_still_need_the_csrf_token(db: None) -> None:
    """A browser session without the CSRF token is refused (403): the session is not a way
    around CSRF."""
    user = services.user_create(email="s@lab.example")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.patch("/api/v1/me", {"full_name": "x"}, content_type="application/json")
    assert response.status_code == 403


@pytest.mark.parametrize(
    "path", ["/", "/accounts/login/", "/accounts/signup/", "/api/v1/docs", "/api/v1/redoc"]
)
def test_every_page_has_a_content_security_policy(db: None, path: str) -> None:
    """The CSP header is on every page: nothing from another host, no inline script."""
    response = Client().get(path)
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/organisations/99999999999999999999"),
        ("delete", "/api/v1/tokens/9223372036854775808"),
        ("get", "/api/v1/memberships?organisation_id=99999999999999999999"),
    ],
)
def test_numbers_past_int64_never_give_500(db: None, method: str, path: str) -> None:
    """Ids past 2**63 answer 4xx (404 or 422 naming the parameter), never 500."""
    user = services.user_create(email="n@lab.example", is_staff=True)
    token = services.token_create(actor=user, name="t").raw
    response = getattr(Client(), method)(path, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert 400 <= response.status_code < 500, response.content


def test_protected_delete_is_409_naming_what_holds_it(db: None) -> None:
    """A delete that records still refer to (PROTECT) maps to 409 'conflict', not 500."""
    from django.db.models import ProtectedError

    from ailab.accounts.models import User
    from ailab.config.api import api

    handler = api._exception_handlers[ProtectedError]
    held = ProtectedError("held", [User(email="held@lab.example")])
    response = handler(Client().get("/").wsgi_request, held)
    assert response.status_code == 409
    assert b"still referred to by: user" in response.content
