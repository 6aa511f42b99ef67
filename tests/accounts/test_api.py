"""The accounts API: authentication, roles, and bad input that must never reach a 500."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from ailab.accounts import services
from ailab.accounts.models import Membership, Organisation, User
from tests.accounts.conftest import People


def bearer(user: User) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {services.token_create(actor=user, name='t').raw}"}


def call(method: str, path: str, user: User | None = None, body: Any = None) -> Any:
    client = Client()
    headers = bearer(user) if user else {}
    fn = getattr(client, method)
    if body is None:
        return fn(f"/api/v1{path}", **headers)
    return fn(f"/api/v1{path}", data=body, content_type="application/json", **headers)


def test_unauthenticated_requests_get_401(people: People) -> None:
    """No token, or a wrong one: 401 with a message saying how to authenticate."""
    assert call("get", "/me").status_code == 401
    response = Client().get("/api/v1/me", HTTP_AUTHORIZATION="Bearer ailab_nope")
    assert response.status_code == 401
    assert "Bearer" in response.json()["message"]
    assert call("post", "/organisations", body={"name": "x", "kind": "startup"}).status_code == 401


def test_me_shows_the_user_and_their_memberships(people: People) -> None:
    """GET /me returns the caller, their staff flag and memberships."""
    data = call("get", "/me", people.founder).json()
    assert data["email"] == "founder@example.com"
    assert data["is_lab_staff"] is False
    assert [m["organisation_name"] for m in data["memberships"]] == ["VisionLoop"]
    assert call("get", "/me", people.lab_staff).json()["is_lab_staff"] is True


def test_session_login_also_authenticates_the_api(people: People) -> None:
    """The web pages' session works for the API too (HTMX uses it)."""
    client = Client()
    client.force_login(people.member)
    assert client.get("/api/v1/me").json()["email"] == "member@example.com"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"kind": "startup"}, 422, "name"),  # missing field
        ({"name": "A", "kind": 5}, 422, "kind"),  # wrong type
        ({"name": "A", "kind": "pirate"}, 422, "kind"),  # not a choice
        ({"name": "x" * 201, "kind": "startup"}, 422, "name"),  # oversized
        ({"name": "A", "kind": "startup", "description": "d" * 5001}, 422, "description"),
        ({"name": "A", "kind": "startup", "website": "nope"}, 422, "website"),
        ({"name": "A", "kind": "startup", "founded": "yesterday"}, 422, "founded"),
        ({"name": "VisionLoop", "kind": "startup"}, 409, "name"),  # duplicate
    ],
)
def test_organisation_create_bad_input(people: People, body: Any, status: int, field: str) -> None:
    """Each bad input gets a 4xx whose body names the field; nothing is written."""
    before = Organisation.objects.count()
    response = call("post", "/organisations", people.staff, body)
    assert response.status_code == status, response.content
    data = response.json()
    assert data["errors"][0]["field"] == field
    assert data["message"]
    assert Organisation.objects.count() == before


def test_malformed_json_is_a_4xx_not_a_500(people: People) -> None:
    """A body that is not JSON is rejected with a 4xx."""
    client = Client()
    response = client.post(
        "/api/v1/organisations",
        data="{not json",
        content_type="application/json",
        **bearer(people.staff),
    )
    assert 400 <= response.status_code < 500


def test_wrong_role_gets_403(people: People) -> None:
    """A founder may not create a university nor delete an organisation; a member may not
    rename it."""
    response = call("post", "/organisations", people.founder, {"name": "U", "kind": "university"})
    assert response.status_code == 403
    assert call("delete", f"/organisations/{people.org.pk}", people.founder).status_code == 403
    response = call("patch", f"/organisations/{people.org.pk}", people.member, {"name": "Renamed"})
    assert response.status_code == 403
    assert Organisation.objects.get(pk=people.org.pk).name == "VisionLoop"


def test_founder_renames_and_staff_deletes(people: People) -> None:
    """Founders update their organisation; lab staff delete it (204)."""
    response = call("patch", f"/organisations/{people.org.pk}", people.founder, {"name": "VL"})
    assert response.status_code == 200
    assert response.json()["name"] == "VL"
    assert call("delete", f"/organisations/{people.org.pk}", people.staff).status_code == 204
    assert not Organisation.objects.filter(pk=people.org.pk).exists()


def test_unknown_organisation_is_404(people: People) -> None:
    """Unknown ids get 404 naming the field, for reads and writes."""
    response = call("get", "/organisations/987654", people.staff)
    assert response.status_code == 404
    assert response.json()["errors"][0]["field"] == "organisation_id"
    body = {"user_id": people.member.pk, "role": "member"}
    assert call("post", "/organisations/987654/memberships", people.staff, body).status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"role": "member"}, 422, "user_id"),
        ({"user_id": "abc", "role": "member"}, 422, "user_id"),
        ({"user_id": 424242, "role": "member"}, 404, "user_id"),
        ({"user_id": None, "role": "wizard"}, 422, "user_id"),
    ],
)
def test_membership_create_bad_input(people: People, body: Any, status: int, field: str) -> None:
    """Membership creation names the bad field; nothing is written."""
    before = Membership.objects.count()
    response = call("post", f"/organisations/{people.org.pk}/memberships", people.staff, body)
    assert response.status_code == status, response.content
    assert response.json()["errors"][0]["field"] == field
    assert Membership.objects.count() == before


def test_duplicate_membership_is_409(people: People) -> None:
    """Adding an existing member again is a 409 naming user_id."""
    body = {"user_id": people.member.pk, "role": "member"}
    response = call("post", f"/organisations/{people.org.pk}/memberships", people.staff, body)
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "user_id"


def test_membership_lifecycle(people: People) -> None:
    """A founder cannot enrol a user directly (403, nothing written); the user joins by
    accepting an invitation; the founder changes the role; the member leaves (204)."""
    body = {"user_id": people.reviewer.pk, "role": "member"}
    before = Membership.objects.count()
    response = call("post", f"/organisations/{people.org.pk}/memberships", people.founder, body)
    assert response.status_code == 403
    assert "reviewer@example.com" not in response.content.decode()
    assert Membership.objects.count() == before
    invite = {"email": "reviewer@example.com", "role": "member"}
    response = call("post", f"/organisations/{people.org.pk}/invitations", people.founder, invite)
    assert response.status_code == 201, response.content
    token = response.json()["link"].rstrip("/").rsplit("/", 1)[-1]
    response = call("post", "/invitations/accept", people.reviewer, {"token": token})
    assert response.status_code == 200, response.content
    mid = response.json()["id"]
    response = call("patch", f"/memberships/{mid}", people.founder, {"role": "founder"})
    assert response.json()["role"] == "founder"
    response = call("patch", f"/memberships/{mid}", people.founder, {"role": "investor"})
    assert response.status_code == 403
    assert call("get", "/memberships", people.outsider).json() == [
        m
        for m in call("get", "/memberships", people.outsider).json()
        if m["organisation_id"] != people.org.pk
    ]
    assert call("delete", f"/memberships/{mid}", people.reviewer).status_code == 204


def test_tokens_api(people: People) -> None:
    """Create shows the token once; list never shows it; revoke is idempotent; another
    user's token is 404; only staff create tokens for other users."""
    response = call("post", "/tokens", people.member, {"name": "laptop"})
    assert response.status_code == 201
    created = response.json()
    assert created["token"].startswith("ailab_")
    listed = call("get", "/tokens", people.member).json()
    assert all("token" not in t for t in listed)
    assert created["id"] in [t["id"] for t in listed]
    assert call("delete", f"/tokens/{created['id']}", people.founder).status_code == 404
    first = call("delete", f"/tokens/{created['id']}", people.member).json()
    again = call("delete", f"/tokens/{created['id']}", people.member).json()
    assert first["revoked_at"] == again["revoked_at"] is not None
    response = call("post", "/tokens", people.founder, {"name": "x", "user_id": people.member.pk})
    assert response.status_code == 404
    response = call("post", "/tokens", people.staff, {"name": "x", "user_id": people.member.pk})
    assert response.status_code == 201
    assert response.json()["user_id"] == people.member.pk
    assert call("post", "/tokens", people.member, {"name": ""}).status_code == 422
    assert call("post", "/tokens", people.member, {"name": "n" * 101}).status_code == 422


def test_openapi_and_docs_are_served(people: People) -> None:
    """The OpenAPI schema and the interactive docs are at /api/v1."""
    schema = Client().get("/api/v1/openapi.json")
    assert schema.status_code == 200
    assert "/api/v1/me" in schema.json()["paths"]
    assert Client().get("/api/v1/docs").status_code == 200
