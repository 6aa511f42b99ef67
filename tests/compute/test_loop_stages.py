"""The loop's stages: an injected clock honoured, each row's failure kept to that row."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest
from django.utils import timezone

from ailab.compute.loop import Loop
from ailab.compute.models import Job, JobStatus, ReasonCode
from ailab.compute.services import job_cancel, job_submit
from ailab.execution.base import Backend, BackendError, Status
from tests.compute.conftest import Lab, drive, status_of

pytestmark = pytest.mark.django_db(transaction=True)


class CancelFailsFor:
    """The real local backend, except that cancelling one chosen job raises (as a daemon
    that does not answer would)."""

    def __init__(self, real: Backend, failing: set[str]) -> None:
        self.real, self.failing = real, failing
        self.name, self.capabilities = real.name, real.capabilities
        self.cancelled: list[str] = []

    def nodes(self):  # type: ignore[no-untyped-def]
        return self.real.nodes()

    def submit(self, spec):  # type: ignore[no-untyped-def]
        return self.real.submit(spec)

    def poll(self, external_ids: Sequence[str]) -> dict[str, Status]:
        return self.real.poll(external_ids)

    def cancel(self, external_id: str) -> None:
        if external_id in self.failing:
            raise BackendError(f"scancel {external_id}: timed out")
        self.cancelled.append(external_id)
        self.real.cancel(external_id)

    def preempt(self, external_id: str) -> None:
        self.real.preempt(external_id)


def _submit(lab: Lab, gpus: int = 1) -> Job:
    return job_submit(
        actor=lab.member,
        allocation=lab.allocation,
        command=["sleep", "30"],
        gpus=gpus,
        time_limit_s=60,
    )


def test_one_failing_cancel_does_not_stop_the_others(lab: Lab) -> None:
    """Two running jobs are cancelled; the backend fails to cancel the first. The pass goes
    on: the second is cancelled and ends CANCELLED, and the first is retried next pass."""
    loop = Loop()
    first, second = _submit(lab), _submit(lab)
    drive(
        loop,
        lambda: all(status_of(j) == JobStatus.RUNNING and j.external_id for j in (first, second)),
    )
    wrapped = CancelFailsFor(loop.backend(lab.cluster), {first.external_id})
    loop.backends[lab.cluster.backend] = wrapped  # type: ignore[assignment]
    Job.objects.filter(pk__in=[first.pk, second.pk]).update(cancel_requested=True)
    drive(loop, lambda: status_of(second) == JobStatus.CANCELLED)
    assert status_of(first) == JobStatus.RUNNING
    assert second.external_id in wrapped.cancelled
    wrapped.failing.clear()  # the daemon answers again: the next pass cancels the first
    drive(loop, lambda: status_of(first) == JobStatus.CANCELLED)


def test_the_loop_starts_jobs_at_its_clock(lab: Lab) -> None:
    """A loop on a fake clock stamps the start with the clock's time, not the wall's."""
    fake = (timezone.now() + dt.timedelta(hours=3)).replace(microsecond=0)
    loop = Loop(clock=lambda: fake)
    job = _submit(lab)
    loop.run_pass()
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING
    assert job.started_at == fake
    job_cancel(actor=lab.member, job=job)


def test_a_waiting_job_carries_a_typed_reason(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 4-GPU job behind running work waits with a code beside its words; the code is
    written once, not again on a pass where it does not change. (fifo: ailab's policy may
    preempt the running job for it, and then it no longer waits.)"""
    monkeypatch.setenv("AILAB_SCHEDULER_POLICY", "fifo")
    loop = Loop()
    running = _submit(lab, gpus=2)
    drive(loop, lambda: status_of(running) == JobStatus.RUNNING)
    waiting = _submit(lab, gpus=4)
    loop.run_pass()
    waiting.refresh_from_db()
    assert waiting.status == JobStatus.PENDING
    assert waiting.reason_code in {ReasonCode.RESOURCES, ReasonCode.QUOTA, ReasonCode.PRIORITY}
    assert waiting.reason
    loop.run_pass()  # the running job's own row settles (starting -> running) first
    waiting.refresh_from_db()
    stamp, code = waiting.updated_at, waiting.reason_code
    loop.run_pass()
    waiting.refresh_from_db()
    assert waiting.reason_code == code
    assert waiting.updated_at == stamp  # unchanged reason: no write
    job_cancel(actor=lab.member, job=running)
    job_cancel(actor=lab.member, job=waiting)


def test_a_pass_with_nothing_changed_skips_the_plan_and_a_new_job_is_planned(lab: Lab) -> None:
    """After a pass that planned, an unchanged cluster is not planned again (the gate sees
    the same mark); a newly submitted job changes the mark and is started the next pass."""
    from ailab.compute.scheduler import PlanGate

    gate = PlanGate()
    now = timezone.now()
    mark = gate.due(lab.cluster, now)
    assert mark is not None
    from ailab.compute.planning.apply import Applied

    gate.planned(lab.cluster, mark, Applied(), now)
    assert gate.due(lab.cluster, now + dt.timedelta(seconds=1)) is None
    assert gate.due(lab.cluster, now + dt.timedelta(seconds=60)) is not None  # periodic replan
    job = _submit(lab)
    assert gate.due(lab.cluster, now + dt.timedelta(seconds=1)) is not None
    loop = Loop()
    loop.run_pass()
    assert status_of(job) == JobStatus.RUNNING
    job_cancel(actor=lab.member, job=job)
