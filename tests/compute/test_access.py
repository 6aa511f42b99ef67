"""access_allocation and access_job for every role, through the selectors and the API.

Roles: lab staff, allocation member, the organisation's founder (not a member), someone
else, anonymous. Invisible things are 404; visible but not allowed is 403; anonymous is 401.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import Client

from ailab.accounts.services import token_create
from ailab.common.errors import NotAuthenticated, NotFound, PermissionDenied
from ailab.compute.selectors import access_allocation, access_job
from ailab.compute.services import job_cancel, job_submit
from tests.compute.conftest import Lab

pytestmark = pytest.mark.django_db

VISIBLE = {"staff": True, "member": True, "founder": True, "other": False}


def client_for(lab: Lab, role: str | None) -> Client:
    if role is None:
        return Client()
    user = getattr(lab, role)
    raw = token_create(actor=user, user=user, name="t").raw
    return Client(headers={"Authorization": f"Bearer {raw}"})


@pytest.mark.parametrize(("role", "visible"), VISIBLE.items())
def test_access_allocation_per_role(lab: Lab, role: str, visible: bool) -> None:
    """Staff, members and the organisation's founders see the allocation; others get 404."""
    user = getattr(lab, role)
    if visible:
        assert access_allocation(user, lab.allocation.pk) == lab.allocation
    else:
        with pytest.raises(NotFound):
            access_allocation(user, lab.allocation.pk)
    status = client_for(lab, role).get(f"/api/v1/allocations/{lab.allocation.pk}").status_code
    assert status == (200 if visible else 404)
    listed = client_for(lab, role).get("/api/v1/allocations?all=true").json()
    assert (lab.allocation.pk in [a["id"] for a in listed]) == visible


def test_access_allocation_anonymous(lab: Lab) -> None:
    """Anonymous callers are told to authenticate (401), never shown the allocation."""
    with pytest.raises(NotAuthenticated):
        access_allocation(AnonymousUser(), lab.allocation.pk)  # type: ignore[arg-type]
    assert Client().get(f"/api/v1/allocations/{lab.allocation.pk}").status_code == 401
    assert Client().get("/api/v1/allocations").status_code == 401


def test_unknown_allocation_is_404(lab: Lab) -> None:
    """An id that does not exist looks the same as one you may not see."""
    with pytest.raises(NotFound):
        access_allocation(lab.staff, 99999)


@pytest.mark.parametrize(("role", "visible"), VISIBLE.items())
def test_access_job_per_role(lab: Lab, role: str, visible: bool) -> None:
    """A job is visible to staff, its allocation's members and the organisation's founders."""
    job = job_submit(
        actor=lab.member, allocation=lab.allocation, command=["true"], gpus=1, time_limit_s=60
    )
    user = getattr(lab, role)
    if visible:
        assert access_job(user, job.pk) == job
    else:
        with pytest.raises(NotFound):
            access_job(user, job.pk)
    client = client_for(lab, role)
    assert client.get(f"/api/v1/jobs/{job.pk}").status_code == (200 if visible else 404)
    assert client.get(f"/api/v1/jobs/{job.pk}/logs").status_code == (200 if visible else 404)
    listed = client.get("/api/v1/jobs?all=true").json()
    assert (job.pk in [j["id"] for j in listed]) == visible


def test_access_job_anonymous(lab: Lab) -> None:
    """Anonymous: 401 on every job endpoint."""
    job = job_submit(
        actor=lab.member, allocation=lab.allocation, command=["true"], gpus=1, time_limit_s=60
    )
    with pytest.raises(NotAuthenticated):
        access_job(AnonymousUser(), job.pk)  # type: ignore[arg-type]
    for path in (f"/api/v1/jobs/{job.pk}", "/api/v1/jobs", "/api/v1/cluster"):
        assert Client().get(path).status_code == 401
    assert Client().post(f"/api/v1/jobs/{job.pk}/cancel").status_code == 401


@pytest.mark.parametrize(
    ("role", "status"), [("staff", 200), ("member", 200), ("founder", 200), ("other", 404)]
)
def test_cancel_per_role(lab: Lab, role: str, status: int) -> None:
    """The owner (member), the founders and staff may cancel; others do not see the job."""
    job = job_submit(
        actor=lab.member, allocation=lab.allocation, command=["true"], gpus=1, time_limit_s=60
    )
    response = client_for(lab, role).post(f"/api/v1/jobs/{job.pk}/cancel")
    assert response.status_code == status
    job.refresh_from_db()
    assert (job.status == "cancelled") == (status == 200)


def test_a_fellow_member_may_see_but_not_cancel(lab: Lab) -> None:
    """Another member of the allocation sees the job (200) but may not cancel it (403)."""
    from ailab.accounts.services import user_create
    from ailab.compute.services import allocation_member_set

    mate = user_create(email="mate@org.test")
    allocation_member_set(actor=lab.staff, allocation=lab.allocation, user=mate)
    job = job_submit(
        actor=lab.member, allocation=lab.allocation, command=["true"], gpus=1, time_limit_s=60
    )
    assert access_job(mate, job.pk) == job
    with pytest.raises(PermissionDenied):
        job_cancel(actor=mate, job=job)
    raw = token_create(actor=mate, user=mate, name="t").raw
    client = Client(headers={"Authorization": f"Bearer {raw}"})
    response = client.post(f"/api/v1/jobs/{job.pk}/cancel")
    assert response.status_code == 403
    assert response.json()["error"] == "permission_denied"


def test_only_members_and_staff_submit(lab: Lab) -> None:
    """The founder sees the allocation but is not a member: 403 on submit; others: 404."""
    body = {"allocation": "Team Vision", "command": ["true"], "gpus": 1, "time_limit_s": 60}
    founder = client_for(lab, "founder").post("/api/v1/jobs", body, content_type="application/json")
    assert founder.status_code == 403
    other = client_for(lab, "other").post("/api/v1/jobs", body, content_type="application/json")
    assert other.status_code == 404
    assert other.json()["errors"][0]["field"] == "allocation"
    for role in ("member", "staff"):
        ok = client_for(lab, role).post("/api/v1/jobs", body, content_type="application/json")
        assert ok.status_code == 201, ok.content
