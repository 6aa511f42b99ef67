"""Compute fixtures: a data directory per test, four virtual GPUs, people in every role."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.utils import timezone

from ailab.accounts.models import Organisation, Role, User
from ailab.accounts.services import membership_create, organisation_create, user_create
from ailab.compute.loop import Loop
from ailab.compute.models import Allocation, Cluster, Job
from ailab.compute.services import allocation_grant, cluster_default, inventory_sync
from ailab.execution.registry import get_backend


@pytest.fixture(autouse=True)
def compute_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Logs and job state under a temporary data directory; 4 virtual GPUs; short timers."""
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("AILAB_DATA_DIR", str(data))
    monkeypatch.setenv("AILAB_LOCAL_GPUS", "4")
    monkeypatch.setenv("AILAB_LOCAL_NODE", "node-a")
    monkeypatch.setenv("AILAB_LOCAL_GRACE_S", "1")
    monkeypatch.setenv("AILAB_SCHEDULER_LEASE_S", "3")
    monkeypatch.setenv("AILAB_BACKEND", "local")
    monkeypatch.delenv("AILAB_CLUSTER", raising=False)
    return data


@dataclass
class Lab:
    staff: User
    founder: User
    member: User
    other: User
    org: Organisation
    cluster: Cluster
    allocation: Allocation


@pytest.fixture
def lab(db: None) -> Lab:
    """Lab staff; an organisation with a founder (not a member of the allocation) and a member
    who is; someone else; a 100 GPU-hour allocation on the local cluster with 4 GPUs."""
    staff = user_create(email="staff@lab.test", is_staff=True)
    founder = user_create(email="founder@org.test")
    member = user_create(email="member@org.test")
    other = user_create(email="other@else.test")
    org = organisation_create(actor=staff, name="Org", kind="startup")
    membership_create(actor=staff, organisation=org, user=founder, role=Role.FOUNDER)
    membership_create(actor=staff, organisation=org, user=member, role=Role.MEMBER)
    cluster = cluster_default()
    inventory_sync(cluster=cluster, nodes=get_backend("local").nodes())
    today = timezone.localdate()
    allocation = allocation_grant(
        actor=staff,
        organisation=org,
        name="Team Vision",
        gpu_hours=100,
        starts_on=today - dt.timedelta(days=1),
        ends_on=today + dt.timedelta(days=30),
        members=[member],
    )
    return Lab(staff, founder, member, other, org, cluster, allocation)


def wait_for(
    check: Callable[[], bool],
    timeout: float = 15.0,
    step: float = 0.05,
    tick: Callable[[], None] | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tick is not None:
            tick()
        if check():
            return
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout} s")


def drive(loop: Loop, until: Callable[[], bool], timeout: float = 15.0) -> None:
    """Run scheduler passes until ``until()`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        loop.run_pass()
        if until():
            return
        time.sleep(0.05)
    raise AssertionError(f"not reached within {timeout} s")


def status_of(job: Job) -> str:
    job.refresh_from_db()
    return job.status
