"""Compute services and selectors: hooks, allocation states, accounting summaries, inventory,
and the loop's behaviour with a backend that schedules by itself (Slurm)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

import pytest
from django.test import TestCase
from django.utils import timezone

from ailab.compute import hooks
from ailab.compute.loop import Loop
from ailab.compute.models import AllocationState, Cluster, Job, JobStatus, Node, Usage
from ailab.compute.selectors import allocation_balance, usage_summary
from ailab.compute.services import (
    allocation_grant,
    allocation_refresh_states,
    allocation_update,
    gpu_model_for,
    inventory_sync,
    job_submit,
    usage_charge,
)
from ailab.execution.base import Capability, JobSpec, NodeInfo, State, Status
from tests.compute.conftest import Lab

pytestmark = pytest.mark.django_db


def test_allocation_hooks_run_after_commit(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hooks see the committed allocation, once per change, and never inside the transaction."""
    calls: list[int] = []
    monkeypatch.setattr(hooks, "on_allocation_changed", [calls.append])
    with TestCase.captureOnCommitCallbacks(execute=False) as pending:
        allocation = allocation_grant(
            actor=lab.staff,
            organisation=lab.org,
            name="Hooked",
            gpu_hours=5,
            starts_on=timezone.localdate(),
            ends_on=timezone.localdate(),
        )
    assert calls == []
    for callback in pending:
        callback()
    assert calls == [allocation.pk]
    with TestCase.captureOnCommitCallbacks(execute=True):
        allocation_update(actor=lab.staff, allocation=allocation, gpu_hours=6)
    assert calls == [allocation.pk, allocation.pk]


def test_a_failing_hook_does_not_break_the_grant(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hook that raises is logged; the allocation stays granted."""

    def broken(allocation_id: int) -> None:
        raise RuntimeError("sacctmgr is down")

    monkeypatch.setattr(hooks, "on_allocation_changed", [broken])
    with TestCase.captureOnCommitCallbacks(execute=True):
        allocation = allocation_grant(
            actor=lab.staff,
            organisation=lab.org,
            name="Robust",
            gpu_hours=5,
            starts_on=timezone.localdate(),
            ends_on=timezone.localdate(),
        )
    assert allocation.pk


def test_states_follow_dates_and_budget(lab: Lab) -> None:
    """pending before the start date, active, exhausted at the budget, expired after the end."""
    today = timezone.localdate()
    later = allocation_grant(
        actor=lab.staff,
        organisation=lab.org,
        name="Later",
        gpu_hours=1,
        starts_on=today + dt.timedelta(days=2),
        ends_on=today + dt.timedelta(days=9),
    )
    assert later.state == AllocationState.PENDING
    now = timezone.now()
    usage_charge(
        allocation=lab.allocation,
        gpu_seconds=lab.allocation.budget_gpu_seconds,
        started_at=now,
        ended_at=now,
        key="all",
    )
    lab.allocation.refresh_from_db()
    assert lab.allocation.state == AllocationState.EXHAUSTED
    allocation_refresh_states(today=today + dt.timedelta(days=60))
    lab.allocation.refresh_from_db()
    assert lab.allocation.state == AllocationState.EXPIRED


def test_expired_allocations_take_no_jobs_and_exhausted_ones_hold_them(lab: Lab) -> None:
    """An expired allocation refuses new jobs (field allocation); an exhausted one holds them
    with the budget reason."""
    from ailab.common.errors import ValidationError

    now = timezone.now()
    usage_charge(
        allocation=lab.allocation,
        gpu_seconds=lab.allocation.budget_gpu_seconds,
        started_at=now,
        ended_at=now,
        key="all",
    )
    lab.allocation.refresh_from_db()
    held = job_submit(
        actor=lab.member, allocation=lab.allocation, command=["true"], gpus=1, time_limit_s=60
    )
    assert held.reason.startswith("budget")
    allocation_refresh_states(today=timezone.localdate() + dt.timedelta(days=60))
    lab.allocation.refresh_from_db()
    with pytest.raises(ValidationError) as err:
        job_submit(
            actor=lab.member, allocation=lab.allocation, command=["true"], gpus=1, time_limit_s=60
        )
    assert err.value.field == "allocation"


def test_balance_gpu_hours_and_pflop_days(lab: Lab) -> None:
    """Balance = budget - charges; PFLOP-days from the GPU model's dense BF16 peak."""
    h100 = gpu_model_for("NVIDIA H100 80GB HBM3")
    assert h100 is not None
    assert h100.tflops_bf16 == Decimal("989.4")
    start = dt.datetime(2026, 3, 31, 2, tzinfo=dt.UTC)  # months in the lab's time zone (HK)
    usage_charge(
        allocation=lab.allocation,
        gpu_seconds=86_400,
        started_at=start,
        ended_at=start + dt.timedelta(hours=3),
        key="a",
        gpu_model=h100,
    )
    usage_charge(
        allocation=lab.allocation,
        gpu_seconds=3_600,
        started_at=start,
        ended_at=start + dt.timedelta(days=10),
        key="b",
    )
    balance = allocation_balance(lab.allocation)
    assert balance["used_gpu_seconds"] == 90_000
    assert balance["balance_gpu_seconds"] == 360_000 - 90_000
    assert balance["used_gpu_hours"] == 25.0
    assert balance["pflop_days"] == "0.9894"  # one GPU-day at 989.4 TFLOPS
    months = usage_summary(by="month", allocation=lab.allocation)
    assert [(m["month"], m["gpu_seconds"]) for m in months] == [
        ("2026-03", 86_400),
        ("2026-04", 3_600),
    ]
    orgs = usage_summary(by="organisation")
    assert orgs[0]["organisation"] == "Org"
    assert orgs[0]["gpu_hours"] == 25.0


def test_inventory_sync_adds_updates_and_retires_nodes(lab: Lab) -> None:
    """Nodes the backend reports are created or updated; others are marked inactive."""
    inventory_sync(cluster=lab.cluster, nodes=[NodeInfo("dgx-1", 8, "NVIDIA H100 80GB HBM3")])
    nodes = {n.name: n for n in Node.objects.filter(cluster=lab.cluster)}
    assert nodes["dgx-1"].gpus == 8
    assert nodes["dgx-1"].active
    assert nodes["dgx-1"].gpu_model is not None
    assert not nodes["node-a"].active


class SchedulingBackend:
    """A backend that schedules by itself: it keeps jobs pending until told to run them."""

    name = "slurm"
    capabilities = frozenset({Capability.SCHEDULES, Capability.ACCOUNTING})
    submitted: dict[str, JobSpec] = {}
    states: dict[str, State] = {}

    @classmethod
    def from_env(cls) -> SchedulingBackend:
        return cls()

    def nodes(self) -> list[NodeInfo]:
        return [NodeInfo("slurm-node", 8)]

    def submit(self, spec: JobSpec) -> str:
        self.submitted[spec.job_id] = spec
        self.states.setdefault(f"s{spec.job_id}", State.PENDING)
        return f"s{spec.job_id}"

    def poll(self, external_ids: Sequence[str]) -> dict[str, Status]:
        now = timezone.now()
        return {
            e: Status(
                e,
                self.states.get(e, State.LOST),
                reason="Priority",
                started_at=now - dt.timedelta(seconds=10),
                ended_at=now,
            )
            for e in external_ids
        }

    def cancel(self, external_id: str) -> None:
        self.states[external_id] = State.CANCELLED

    def preempt(self, external_id: str) -> None:
        raise NotImplementedError


@pytest.mark.django_db(transaction=True)
def test_backends_that_schedule_get_jobs_without_the_planner(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With Capability.SCHEDULES the loop does not plan: it submits pending jobs, shows the
    backend's reason, follows it to running and finished, and charges the run once."""
    from ailab.compute import scheduler
    from ailab.execution import registry

    monkeypatch.setitem(registry.BACKENDS, "slurm", f"{__name__}:SchedulingBackend")
    monkeypatch.setattr(scheduler, "plan", lambda *a: pytest.fail("planner called"))
    SchedulingBackend.submitted.clear()
    SchedulingBackend.states.clear()
    cluster = Cluster.objects.create(name="hpc", backend="slurm")
    allocation = allocation_grant(
        actor=lab.staff,
        organisation=lab.org,
        name="HPC team",
        gpu_hours=10,
        starts_on=timezone.localdate(),
        ends_on=timezone.localdate(),
        members=[lab.member],
        cluster=cluster,
    )
    job = job_submit(
        actor=lab.member, allocation=allocation, command=["train"], gpus=8, time_limit_s=600
    )
    loop = Loop()
    loop.run_pass()
    job.refresh_from_db()
    assert job.external_id == f"s{job.pk}.0"
    assert SchedulingBackend.submitted[f"{job.pk}.0"].account == allocation.account
    loop.run_pass()
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING
    assert job.reason == "Priority"
    SchedulingBackend.states[job.external_id] = State.RUNNING
    loop.run_pass()
    assert Job.objects.get(pk=job.pk).status == JobStatus.RUNNING
    SchedulingBackend.states[job.external_id] = State.COMPLETED
    loop.run_pass()
    loop.run_pass()
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert Usage.objects.get(job=job).gpu_seconds == 80


@pytest.mark.django_db(transaction=True)
def test_scheduling_backend_jobs_that_end_between_polls_or_are_cancelled_while_queued(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job the backend ran entirely between two polls is still recorded and charged; a job
    cancelled while queued in the backend is withdrawn there too."""
    from ailab.compute.services import job_cancel
    from ailab.execution import registry

    monkeypatch.setitem(registry.BACKENDS, "slurm", f"{__name__}:SchedulingBackend")
    SchedulingBackend.submitted.clear()
    SchedulingBackend.states.clear()
    cluster = Cluster.objects.create(name="hpc", backend="slurm")
    allocation = allocation_grant(
        actor=lab.staff,
        organisation=lab.org,
        name="HPC team",
        gpu_hours=10,
        starts_on=timezone.localdate(),
        ends_on=timezone.localdate(),
        members=[lab.member],
        cluster=cluster,
    )
    quick, queued = (
        job_submit(actor=lab.member, allocation=allocation, command=["x"], gpus=1, time_limit_s=60)
        for _ in range(2)
    )
    loop = Loop()
    loop.run_pass()
    quick.refresh_from_db()
    queued.refresh_from_db()
    SchedulingBackend.states[quick.external_id] = State.COMPLETED
    loop.run_pass()
    quick.refresh_from_db()
    assert quick.status == JobStatus.COMPLETED
    assert Usage.objects.get(job=quick).gpu_seconds == 10
    with TestCase.captureOnCommitCallbacks(execute=True):
        job_cancel(actor=lab.member, job=queued)
    assert SchedulingBackend.states[queued.external_id] == State.CANCELLED
    assert Job.objects.get(pk=queued.pk).status == JobStatus.CANCELLED
