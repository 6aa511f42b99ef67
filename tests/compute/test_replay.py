"""A small trace replayed through the live loop on a fake clock starts jobs in the order the
simulator does: same ``plan()``, same estimator (learned from the jobs that finished)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest
from django.utils import timezone

from ailab.compute.loop import Loop
from ailab.compute.models import EstimatorState, Job, JobStatus
from ailab.compute.services import allocation_update, job_submit
from ailab.execution.base import Capability, JobSpec, NodeInfo, State, Status
from ailab.scheduling import Job as PlanJob
from ailab.scheduling import Mode, Node, Tenant
from ailab.scheduling.estimate import RuntimeEstimator
from ailab.scheduling.simulator import simulate
from ailab.scheduling.traces import Workload
from tests.compute.conftest import Lab

pytestmark = pytest.mark.django_db(transaction=True)

# (submit second, name, GPUs, run seconds): short "eval" and long "train" jobs are learned
# first; then a burst where the learned estimates decide the order (shorter service first).
TRACE = [
    (0, "train", 2, 600),
    (1, "eval", 2, 60),
    (10, "eval", 2, 60),
    (20, "eval", 2, 60),
    (690, "big", 4, 300),
    (700, "train", 2, 600),
    (701, "train", 2, 600),
    (702, "eval", 2, 60),
    (703, "eval", 2, 60),
    (704, "eval", 2, 60),
    (705, "train", 2, 600),
]


class Clock:
    def __init__(self, origin: dt.datetime) -> None:
        self.origin, self.t = origin, 0.0

    def __call__(self) -> dt.datetime:
        return self.origin + dt.timedelta(seconds=self.t)


class VirtualBackend:
    """A backend on the fake clock: a job runs for its trace duration from its submit."""

    name = "local"
    capabilities = frozenset({Capability.GPU_PINNING})

    def __init__(self, clock: Clock, durations: dict[str, float]) -> None:
        self.clock, self.durations = clock, durations
        self.runs: dict[str, tuple[float, float]] = {}

    def nodes(self) -> list[NodeInfo]:
        return [NodeInfo("node-a", 4)]

    def submit(self, spec: JobSpec) -> str:
        self.runs.setdefault(spec.job_id, (self.clock.t, self.durations[spec.job_id]))
        return spec.job_id

    def poll(self, external_ids: Sequence[str]) -> dict[str, Status]:
        out = {}
        for eid in external_ids:
            start, length = self.runs[eid]
            at = self.clock.origin + dt.timedelta(seconds=start)
            if self.clock.t >= start + length:
                end = at + dt.timedelta(seconds=length)
                out[eid] = Status(eid, State.COMPLETED, "exit 0", at, end, 0)
            else:
                out[eid] = Status(eid, State.RUNNING, "", at)
        return out

    def cancel(self, external_id: str) -> None:
        pass

    def preempt(self, external_id: str) -> None:
        pass


def _live(lab: Lab) -> list[str]:
    origin = timezone.now().replace(microsecond=0) - dt.timedelta(hours=2)
    clock = Clock(origin)
    durations: dict[str, float] = {}
    backend = VirtualBackend(clock, durations)
    loop = Loop(clock=clock)
    loop.backends[lab.cluster.backend] = backend  # type: ignore[assignment]
    loop.synced.add(lab.cluster.pk)
    ids: list[int] = []
    pending = list(TRACE)
    while True:
        ends = [s + d for s, d in backend.runs.values() if s + d > clock.t]
        next_end = min(ends, default=None)
        if pending and (next_end is None or pending[0][0] < next_end):
            at, name, gpus, length = pending.pop(0)  # one submission: one event
            clock.t = float(at)
            job = job_submit(
                actor=lab.member,
                allocation=lab.allocation,
                command=["true"],
                gpus=gpus,
                time_limit_s=3600,
                name=name,
            )
            Job.objects.filter(pk=job.pk).update(created_at=origin + dt.timedelta(seconds=at))
            durations[f"{job.pk}.1"] = float(length)
            ids.append(job.pk)
        elif next_end is not None:
            clock.t = next_end
        elif not Job.objects.filter(pk__in=ids).exclude(status=JobStatus.COMPLETED).exists():
            break
        loop.run_pass()
        assert clock.t < 10_000, "the replay does not finish"
    saved = EstimatorState.objects.get(cluster=lab.cluster).state  # kept across restarts
    assert RuntimeEstimator.from_state(saved).predict(_plan(lab, "eval")) == 60.0
    order = Job.objects.filter(pk__in=ids).order_by("started_at", "id")
    return [f"{ids.index(j.pk)}" for j in order]


def _plan(lab: Lab, name: str) -> PlanJob:
    return PlanJob(
        "x", str(lab.allocation.pk), 2, 0.0, user=str(lab.member.pk), name=name, time_limit=3600.0
    )


def _simulated(lab: Lab) -> list[str]:
    jobs = tuple(
        PlanJob(
            id=str(i),
            tenant=str(lab.allocation.pk),
            gpus=gpus,
            submit_time=float(at),
            user=str(lab.member.pk),
            name=name,
            duration=float(length),
            time_limit=3600.0,
        )
        for i, (at, name, gpus, length) in enumerate(TRACE)
    )
    workload = Workload(
        jobs=jobs,
        nodes=(Node("node-a", 4),),
        tenants=(Tenant(str(lab.allocation.pk), quota_gpus=4),),
    )
    result = simulate(
        workload, "ailab", mode=Mode.SHARED, capabilities=frozenset({Capability.GPU_PINNING})
    )
    records = sorted(result.records, key=lambda r: (r.first_start, int(r.job_id)))
    return [r.job_id for r in records]


def test_the_live_loop_starts_jobs_in_the_simulators_order(lab: Lab) -> None:
    """Replayed on a fake clock through the live loop (real database, the ``ailab`` policy,
    estimates learned from finished jobs and kept in EstimatorState), the start order equals
    the simulator's on the same trace; the learned estimates give the GPUs freed after the
    burst to short jobs first, ahead of longer ones submitted earlier."""
    allocation_update(actor=lab.staff, allocation=lab.allocation, gpu_quota=4)
    live = _live(lab)
    assert live == _simulated(lab)
    burst = live[5:]  # queued behind the 4-GPU job: the estimates decide
    assert burst[:2] == ["7", "8"]  # learned-short evals take the freed GPUs before the trains
