"""``finish_outcome``: what a run's end means for its job, without a database."""

from __future__ import annotations

import datetime as dt

from ailab.compute.models import JobStatus, ReasonCode
from ailab.compute.outcomes import RunView, finish_outcome
from ailab.compute.planning.reasons import Reason
from ailab.execution.base import State, Status
from ailab.scheduling import WaitReason

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
NOW = T0 + dt.timedelta(seconds=100)


def _run(*, cancel: bool = False, reason: str = "") -> RunView:
    return RunView(gpus=2, started_at=T0, reason=reason, cancel_requested=cancel)


def _status(state: State, *, started: bool = True, reason: str = "") -> Status:
    return Status(
        "x",
        state,
        reason=reason,
        started_at=T0 if started else None,
        ended_at=T0 + dt.timedelta(seconds=10.4),
    )


def test_a_completed_run_is_charged_gpus_times_its_seconds_rounded_once() -> None:
    """2 GPUs x 10.4 s = 20.8 -> 21 GPU-seconds; COMPLETED; ends when the backend says."""
    out = finish_outcome(_run(), _status(State.COMPLETED, reason="exit 0"), NOW)
    assert out.status == JobStatus.COMPLETED
    assert out.gpu_seconds == 21
    assert out.charge
    assert out.ended_at == T0 + dt.timedelta(seconds=10.4)
    assert not out.requeue


def test_a_preempted_run_is_requeued_with_the_preempting_reason() -> None:
    """PREEMPTED without a cancel: back to PENDING, typed PREEMPTED, naming why."""
    run = _run(reason="preempting: tenant 3 reclaims its quota")
    out = finish_outcome(run, _status(State.PREEMPTED), NOW)
    assert out.status == JobStatus.PENDING
    assert out.requeue
    assert out.reason == Reason(
        ReasonCode.PREEMPTED, "preempted (tenant 3 reclaims its quota); requeued"
    )


def test_a_preempted_or_lost_run_being_cancelled_ends_cancelled() -> None:
    """A cancel was asked for: PREEMPTED, LOST and CANCELLED all end CANCELLED, no requeue."""
    for state in (State.PREEMPTED, State.LOST, State.CANCELLED):
        out = finish_outcome(_run(cancel=True), _status(state), NOW)
        assert out.status == JobStatus.CANCELLED, state
        assert not out.requeue


def test_a_lost_run_fails_saying_so_and_a_never_started_one_is_not_charged() -> None:
    """LOST -> FAILED with "lost: ..."; a run the backend never started charges nothing."""
    out = finish_outcome(_run(), _status(State.LOST, reason="runner gone"), NOW)
    assert out.status == JobStatus.FAILED
    assert out.reason.text == "lost: runner gone"
    never = finish_outcome(_run(), _status(State.FAILED, started=False), NOW)
    assert not never.charge
    assert never.gpu_seconds == 0


def test_every_planner_wait_reason_is_a_job_reason_code() -> None:
    """The planner's WaitReason values are stored as they are: each is a ReasonCode."""
    assert {w.value for w in WaitReason} <= set(ReasonCode.values)


def test_one_capability_enum_and_backends_declare_what_they_do() -> None:
    """The backends' Capability is the planner's (no conversion by value); the local backend
    declares log reading by the LogReader protocol, Slurm does not, and both are built from
    the environment through the protocol's ``from_env``."""
    from ailab.execution import base
    from ailab.execution.local import LocalBackend
    from ailab.execution.slurm import SlurmBackend
    from ailab.scheduling import Capability

    assert base.Capability is Capability
    assert Capability.MULTI_NODE in Capability
    assert issubclass(LocalBackend, base.LogReader)
    assert not issubclass(SlurmBackend, base.LogReader)
    assert Capability.SCHEDULES in SlurmBackend.capabilities
    assert Capability.PREEMPT in LocalBackend.capabilities
