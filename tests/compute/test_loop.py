"""The scheduler loop on the local backend: starts, waits, time limits, cancel, budget holds."""

from __future__ import annotations

import pytest

from ailab.compute.loop import Loop
from ailab.compute.models import GpuAssignment, Job, JobStatus, Usage
from ailab.compute.services import job_cancel, job_submit
from tests.compute.conftest import Lab, drive, status_of

pytestmark = pytest.mark.django_db(transaction=True)


def submit(lab: Lab, cmd: list[str], gpus: int = 2, limit: int = 60) -> Job:
    return job_submit(
        actor=lab.member, allocation=lab.allocation, command=cmd, gpus=gpus, time_limit_s=limit
    )


def test_two_of_three_run_with_disjoint_gpus_and_the_third_waits(lab: Lab) -> None:
    """Three 2-GPU jobs on 4 GPUs: two run at once on disjoint GPUs, the third waits with a
    reason, then starts when one ends; usage equals GPUs x the seconds each ran."""
    loop = Loop()
    jobs = [submit(lab, ["sleep", "1"]) for _ in range(3)]
    drive(loop, lambda: sum(status_of(j) == JobStatus.RUNNING for j in jobs) == 2)
    third = next(j for j in jobs if j.status == JobStatus.PENDING)
    assert third.reason.split(":")[0] in {"resources", "quota", "priority", "reserved"}
    running = [j for j in jobs if j.status == JobStatus.RUNNING]
    assert set(running[0].gpu_indices).isdisjoint(running[1].gpu_indices)
    drive(loop, lambda: all(status_of(j) == JobStatus.COMPLETED for j in jobs), timeout=20)
    assert GpuAssignment.objects.count() == 0
    for job in jobs:
        usage = Usage.objects.get(job=job)
        ran = (usage.ended_at - usage.started_at).total_seconds()
        assert usage.gpu_seconds == round(2 * ran)
        assert 1 <= ran < 3


def test_time_limit_stops_the_job_and_marks_it_timed_out(lab: Lab) -> None:
    """A job past its time limit gets SIGTERM (then SIGKILL after the grace) and TIMEOUT."""
    loop = Loop()
    job = submit(lab, ["sleep", "30"], gpus=1, limit=1)
    drive(loop, lambda: status_of(job) == JobStatus.TIMEOUT)
    assert "time limit" in job.reason
    assert Usage.objects.get(job=job).gpu_seconds in (1, 2)


def test_cancel_pending_running_and_finished_is_idempotent(lab: Lab) -> None:
    """Cancel works for pending and running jobs and is a no-op on finished ones."""
    loop = Loop()
    pending = submit(lab, ["sleep", "30"], gpus=4)
    job_cancel(actor=lab.member, job=pending)
    assert status_of(pending) == JobStatus.CANCELLED
    job_cancel(actor=lab.member, job=pending)
    assert status_of(pending) == JobStatus.CANCELLED
    running = submit(lab, ["sleep", "30"], gpus=1)
    drive(loop, lambda: status_of(running) == JobStatus.RUNNING)
    job_cancel(actor=lab.member, job=running)
    job_cancel(actor=lab.member, job=running)
    drive(loop, lambda: status_of(running) == JobStatus.CANCELLED)
    assert Usage.objects.filter(job=running).count() == 1
    job_cancel(actor=lab.member, job=running)
    assert status_of(running) == JobStatus.CANCELLED


def test_job_over_remaining_budget_is_held_with_the_reason(lab: Lab) -> None:
    """GPUs x time limit beyond what is left: pending, never started, reason names the budget."""
    loop = Loop()
    job = submit(lab, ["true"], gpus=4, limit=30 * 3600)  # 120 GPU-h > 100
    assert job.reason.startswith("budget")
    loop.run_pass()
    loop.run_pass()
    assert status_of(job) == JobStatus.PENDING
    assert job.reason.startswith("budget")
