"""Bad input gets a 4xx naming the field, and the database is unchanged."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from ailab.accounts.services import token_create
from ailab.common.errors import PermissionDenied, ValidationError
from ailab.compute.models import Allocation, Job, Usage
from ailab.compute.services import allocation_grant, usage_charge
from tests.compute.conftest import Lab

pytestmark = pytest.mark.django_db

GOOD: dict[str, Any] = {
    "allocation": "Team Vision",
    "command": ["python", "-c", "print(1)"],
    "gpus": 1,
    "time_limit_s": 600,
}


def post(lab: Lab, body: dict[str, Any]) -> Any:
    raw = token_create(actor=lab.member, user=lab.member, name="t").raw
    client = Client(headers={"Authorization": f"Bearer {raw}"})
    return client.post("/api/v1/jobs", body, content_type="application/json")


@pytest.mark.parametrize(
    ("change", "field", "status"),
    [
        ({"allocation": "nope"}, "allocation", 404),
        ({"gpus": 5}, "gpus", 422),
        ({"gpus": -1}, "gpus", 422),
        ({"gpus": "two"}, "gpus", 422),
        ({"time_limit_s": -5}, "time_limit_s", 422),
        ({"time_limit_s": 0}, "time_limit_s", 422),
        ({"time_limit_s": None}, "time_limit_s", 422),
        ({"command": "python -c 1"}, "command", 422),
        ({"command": ["python", 3]}, "command", 422),
        ({"command": []}, "command", 422),
        ({"env": {"BIG": "x" * 40_000}}, "env", 422),
        ({"env": {f"V{i}": "1" for i in range(500)}}, "env", 422),
        ({"env": {"BAD NAME": "1"}}, "env", 422),
        ({"env": ["A=1"]}, "env", 422),
        ({"workdir": "relative/dir"}, "workdir", 422),
        ({"cpus": 0}, "cpus", 422),
    ],
)
def test_bad_job_input_is_rejected_naming_the_field(
    lab: Lab, change: dict[str, Any], field: str, status: int
) -> None:
    """Each bad value: the status, the field in the error body, and no job row."""
    body = {**GOOD, **change}
    response = post(lab, body)
    assert response.status_code == status, response.content
    assert response.json()["errors"][0]["field"] == field
    assert field in response.json()["message"]
    assert Job.objects.count() == 0


def test_missing_time_limit_is_rejected(lab: Lab) -> None:
    """Leaving out time_limit_s is as bad as a wrong one."""
    body = {k: v for k, v in GOOD.items() if k != "time_limit_s"}
    response = post(lab, body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "time_limit_s"
    assert Job.objects.count() == 0


def test_good_input_is_accepted(lab: Lab) -> None:
    """The baseline of the table above: the same body with nothing wrong is a 201."""
    response = post(lab, GOOD)
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "pending"
    assert Job.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "Team Vision"}, "name"),
        ({"name": ""}, "name"),
        ({"gpu_hours": 0}, "gpu_hours"),
        ({"gpu_hours": -3}, "gpu_hours"),
        ({"ends_on": dt.date(2020, 1, 1)}, "ends_on"),
        ({"gpu_quota": -1}, "gpu_quota"),
        ({"weight": 0}, "weight"),
        ({"account": "Bad Account"}, "account"),
    ],
)
def test_allocation_grant_validates(lab: Lab, change: dict[str, Any], field: str) -> None:
    """allocation_grant names the bad field and creates nothing."""
    args: dict[str, Any] = {
        "actor": lab.staff,
        "organisation": lab.org,
        "name": "Team NLP",
        "gpu_hours": 10,
        "starts_on": dt.date(2026, 1, 1),
        "ends_on": dt.date(2026, 12, 31),
        **change,
    }
    before = Allocation.objects.count()
    with pytest.raises(ValidationError) as err:
        allocation_grant(**args)
    assert err.value.field == field
    assert Allocation.objects.count() == before


def test_allocation_grant_is_for_lab_staff(lab: Lab) -> None:
    """Founders may not grant themselves GPU time."""
    with pytest.raises(PermissionDenied):
        allocation_grant(
            actor=lab.founder,
            organisation=lab.org,
            name="Free GPUs",
            gpu_hours=10,
            starts_on=dt.date(2026, 1, 1),
            ends_on=dt.date(2026, 12, 31),
        )


def test_allocation_account_is_a_slurm_account_name(lab: Lab) -> None:
    """Derived accounts: lowercase, at most 32 characters, unique per cluster."""
    names = ["Deep Learning Group of a Very Long Name 2026", "Deep-Learning Group of a Very Long!"]
    accounts = []
    for name in names:
        a = allocation_grant(
            actor=lab.staff,
            organisation=lab.org,
            name=name,
            gpu_hours=1,
            starts_on=dt.date(2026, 1, 1),
            ends_on=dt.date(2026, 12, 31),
        )
        accounts.append(a.account)
    assert all(len(a) <= 32 and a == a.lower() for a in accounts)
    assert len(set(accounts)) == 2
    assert lab.allocation.account == "team_vision"


def test_usage_is_charged_once_per_key(lab: Lab) -> None:
    """A second charge with the same key returns the first record and charges nothing."""
    now = dt.datetime.now(dt.UTC)
    first, created = usage_charge(
        allocation=lab.allocation, gpu_seconds=7200, started_at=now, ended_at=now, key="slurm:1"
    )
    again, created_again = usage_charge(
        allocation=lab.allocation, gpu_seconds=9999, started_at=now, ended_at=now, key="slurm:1"
    )
    assert created
    assert not created_again
    assert again.pk == first.pk
    assert again.gpu_seconds == 7200
    assert Usage.objects.count() == 1


def test_budget_notices_are_sent_once_at_80_and_100_percent(lab: Lab, mailoutbox: Any) -> None:
    """Crossing 80% mails the owners once; crossing 100% once more; no more after that."""
    now = dt.datetime.now(dt.UTC)
    budget = lab.allocation.budget_gpu_seconds
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        usage_charge(
            allocation=lab.allocation,
            gpu_seconds=budget * 7 // 10,
            started_at=now,
            ended_at=now,
            key="a",
        )
    assert len(mailoutbox) == 0
    for key in ("b", "c"):
        with TestCase.captureOnCommitCallbacks(execute=True):
            usage_charge(
                allocation=lab.allocation,
                gpu_seconds=budget // 10,
                started_at=now,
                ended_at=now,
                key=key,
            )
    assert len(mailoutbox) == 1
    assert "80%" in mailoutbox[0].subject
    assert set(mailoutbox[0].to) == {"founder@org.test", "member@org.test"}
    for key in ("d", "e"):
        with TestCase.captureOnCommitCallbacks(execute=True):
            usage_charge(
                allocation=lab.allocation,
                gpu_seconds=budget // 10,
                started_at=now,
                ended_at=now,
                key=key,
            )
    assert len(mailoutbox) == 2
    assert "100%" in mailoutbox[1].subject
    lab.allocation.refresh_from_db()
    assert lab.allocation.state == "exhausted"
