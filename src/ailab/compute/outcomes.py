"""What a run's end means for its job: a pure function of the backend's status and the job's
row, tested without a database (``tests/compute/test_outcomes.py``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ailab.compute.models import JobStatus
from ailab.compute.planning import reasons
from ailab.compute.planning.reasons import Reason
from ailab.execution.base import State, Status

FINAL = {
    State.COMPLETED: JobStatus.COMPLETED,
    State.FAILED: JobStatus.FAILED,
    State.CANCELLED: JobStatus.CANCELLED,
    State.TIMEOUT: JobStatus.TIMEOUT,
    State.LOST: JobStatus.FAILED,
}
_CANCELLED_WHEN_ASKED = (State.PREEMPTED, State.LOST, State.CANCELLED)


@dataclass(frozen=True, slots=True)
class RunView:
    """The columns of a running job the outcome depends on."""

    gpus: int
    started_at: dt.datetime | None
    reason: str
    cancel_requested: bool


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str  # the job's next status
    reason: Reason
    gpu_seconds: int  # to charge for this run (GPUs x seconds, rounded once)
    charge: bool  # False when the backend never started it (nothing ran)
    started_at: dt.datetime
    ended_at: dt.datetime
    requeue: bool  # preempted: back to PENDING to run again


def finish_outcome(run: RunView, status: Status, now: dt.datetime) -> Outcome:
    """The status, reason and charge of a run that ``status`` says has ended.

    A preempted run is requeued unless its cancel was asked for (then it is CANCELLED, as is
    a lost or cancelled run being cancelled); a lost run fails with a reason saying so.
    """
    started = status.started_at or run.started_at or now
    ended = max(status.ended_at or now, started)
    ran = (ended - started).total_seconds() if status.started_at else 0.0
    gpu_seconds = round(run.gpus * max(ran, 0.0))
    requeue = status.state == State.PREEMPTED and not run.cancel_requested
    if requeue:
        target, reason = JobStatus.PENDING, reasons.preempted(run.reason)
    elif run.cancel_requested and status.state in _CANCELLED_WHEN_ASKED:
        target = JobStatus.CANCELLED
        reason = Reason("", status.reason or "cancelled")
    else:
        target = FINAL.get(status.state, JobStatus.FAILED)
        text = f"lost: {status.reason}" if status.state == State.LOST else status.reason
        reason = Reason("", text)
    return Outcome(
        status=target,
        reason=reason.clipped(),
        gpu_seconds=gpu_seconds,
        charge=status.started_at is not None,
        started_at=started,
        ended_at=ended,
        requeue=requeue,
    )
