"""Who sees commands: as Slurm's PrivateData=jobs, the board shows others' jobs without
command, working directory, environment or email."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from ailab.accounts.models import Role
from ailab.accounts.services import (
    membership_create,
    organisation_create,
    token_create,
    user_create,
)
from ailab.compute.jobs import job_submit
from tests.compute.conftest import Lab

pytestmark = pytest.mark.django_db
SECRET_ARG = "--hf-token=hf_secret_value"


def board(user: Any) -> list[dict[str, Any]]:
    raw = token_create(actor=user, user=user, name="t").raw
    client = Client(headers={"Authorization": f"Bearer {raw}"})
    response = client.get("/api/v1/cluster")
    assert response.status_code == 200
    data: list[dict[str, Any]] = response.json()
    return data


@pytest.fixture
def queued(lab: Lab) -> Any:
    return job_submit(
        actor=lab.member,
        allocation=lab.allocation,
        gpus=1,
        time_limit_s=60,
        command=["python", "train.py", SECRET_ARG],
        workdir="/srv/secret-project",
    )


def _job(rows: list[dict[str, Any]], job_id: int) -> dict[str, Any]:
    return next(j for c in rows for j in c["running"] + c["queue"] if j["id"] == job_id)


def test_an_investor_sees_that_a_job_waits_not_what_it_runs(lab: Lab, queued: Any) -> None:
    """An investor (another organisation): the job is on the board, its command, workdir
    and the owner's email are not."""
    investor = user_create(email="vc@fund.test")
    fund = organisation_create(actor=lab.staff, name="Fund", kind="investor")
    membership_create(actor=lab.staff, organisation=fund, user=investor, role=Role.INVESTOR)
    job = _job(board(investor), queued.pk)
    assert job["command"] == []
    assert job["workdir"] == ""
    assert job["user"] != lab.member.email
    assert "member@org.test" not in str(board(investor))
    assert SECRET_ARG not in str(board(investor))


@pytest.mark.parametrize("who", ["member", "founder", "staff"])
def test_the_owner_allocation_members_founders_and_staff_see_the_command(
    lab: Lab, queued: Any, who: str
) -> None:
    """The owner, its organisation's founder and lab staff see the command line."""
    job = _job(board(getattr(lab, who)), queued.pk)
    assert SECRET_ARG in job["command"]
    assert job["workdir"] == "/srv/secret-project"
    assert job["user"] == lab.member.email


def test_someone_else_on_the_page_sees_no_command(lab: Lab, queued: Any) -> None:
    """The cluster page, for a user of another organisation: no command, no email."""
    client = Client()
    client.force_login(lab.other)
    page = client.get("/cluster/")
    assert page.status_code == 200
    text = page.content.decode()
    assert f"{queued.pk}" in text
    assert SECRET_ARG not in text
    assert lab.member.email not in text
