"""Preemption on the local backend: a loan is reclaimed, the partial run is charged, the job
is requeued and runs again; no GPU is ever held by two jobs."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from ailab.compute.loop import Loop
from ailab.compute.models import GpuAssignment, JobStatus, Usage
from ailab.compute.services import allocation_grant, job_cancel, job_submit
from tests.compute.conftest import Lab, drive, status_of

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_loan_is_preempted_charged_and_requeued(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Team Vision (no guarantee) borrows all 4 GPUs; a team with a 4-GPU guarantee submits:
    the borrower is preempted (SIGTERM, grace), its partial run charged once, it goes back to
    pending and the guaranteed job starts only once the GPUs are free."""
    monkeypatch.setenv("AILAB_SCHEDULER_POLICY", "ailab")
    today = timezone.localdate()
    guaranteed = allocation_grant(
        actor=lab.staff,
        organisation=lab.org,
        name="Team NLP",
        gpu_hours=100,
        gpu_quota=4,
        starts_on=today,
        ends_on=today,
        members=[lab.member],
    )
    loop = Loop()
    loan = job_submit(
        actor=lab.member,
        allocation=lab.allocation,
        command=["sleep", "60"],
        gpus=4,
        time_limit_s=600,
    )
    drive(loop, lambda: status_of(loan) == JobStatus.RUNNING and bool(loan.external_id))
    time.sleep(1)
    owed = job_submit(
        actor=lab.member, allocation=guaranteed, command=["sleep", "60"], gpus=2, time_limit_s=600
    )

    def no_double_booking() -> bool:
        held = list(GpuAssignment.objects.values_list("node_id", "gpu_index"))
        assert len(held) == len(set(held))
        return status_of(owed) == JobStatus.RUNNING

    drive(loop, no_double_booking, timeout=20)
    loan.refresh_from_db()
    assert loan.status in (JobStatus.PENDING, JobStatus.RUNNING)
    assert loan.preemptions == 1
    assert loan.status == JobStatus.PENDING  # requeued; 2 GPUs free, it needs 4
    first = Usage.objects.get(job=loan, key=f"job:{loan.pk}:run:1")
    assert first.gpu_seconds >= 4
    assert loan.attained_gpu_seconds == first.gpu_seconds
    for job in (owed, loan):
        job_cancel(actor=lab.member, job=job)
    drive(
        loop,
        lambda: status_of(owed) == JobStatus.CANCELLED and status_of(loan) == JobStatus.CANCELLED,
    )
    assert GpuAssignment.objects.count() == 0
