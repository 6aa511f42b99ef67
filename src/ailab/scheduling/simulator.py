"""Event-driven replay of a workload through a policy, on a virtual clock.

There are no time steps: the clock jumps to the next arrival, completion, or time a policy
asked to be woken at. At each such instant the simulator first ends the jobs that complete,
then submits the jobs that arrive, then lets the policy schedule (the same scheduler code that
:func:`ailab.scheduling.planner.plan` runs, on a board kept between events). A preempted job
loses the checkpoint cost of :func:`ailab.scheduling.board.checkpoint_cost` on its restart.
Jobs that can never fit their pool are rejected at submission and counted.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass

from ailab.scheduling.board import Board
from ailab.scheduling.model import ALL_CAPABILITIES, Capability, Mode
from ailab.scheduling.policies import Policy, Scheduler, get_policy
from ailab.scheduling.traces import Workload

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class JobRecord:
    """What happened to one job: first start, end, time spent waiting, preemptions."""

    job_id: str
    tenant: str
    gpus: int
    submit: float
    first_start: float
    end: float
    queued: float
    preemptions: int

    @property
    def jct(self) -> float:
        return self.end - self.submit


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One uninterrupted run of a job: from ``start`` to ``end`` on ``slots``."""

    job_id: str
    start: float
    end: float
    slots: tuple[tuple[str, tuple[int, ...]], ...]


@dataclass(frozen=True, slots=True)
class SimResult:
    """Per-job records, rejected jobs, the sampled queue length, and GPU busy time."""

    policy: str
    mode: Mode
    records: tuple[JobRecord, ...]
    rejected: tuple[str, ...]
    queue_series: tuple[tuple[float, int], ...]
    busy_gpu_seconds: float
    total_gpus: int
    first_submit: float
    last_end: float
    dropped_unknown_tenant: int = 0
    runs: tuple[RunRecord, ...] = ()


def simulate(
    workload: Workload,
    policy: Policy | str,
    *,
    mode: Mode = Mode.PARTITIONED,
    capabilities: frozenset[Capability] = ALL_CAPABILITIES,
    progress: ProgressFn | None = None,
    sample_every: float = 600.0,
    record_runs: bool = False,
) -> SimResult:
    """Replay ``workload`` under ``policy``; every accepted job ends exactly once.

    Jobs are taken in order of submission (stable: ties keep the workload's order); each needs
    a ``duration``.

    With ``record_runs`` the result lists every run of every job with its GPUs (for checks
    such as "no GPU is held twice"); it costs time and memory, so it is off by default.
    """
    pol = get_policy(policy) if isinstance(policy, str) else policy
    jobs = sorted(workload.jobs, key=lambda j: j.submit_time)
    missing = next((j.id for j in jobs if j.duration is None or j.duration < 0), None)
    if missing is not None:
        raise ValueError(f"job {missing!r} has no duration to replay")
    board = Board(workload.nodes, workload.tenants, mode)
    board.multi_node = Capability.MULTI_NODE in capabilities
    board.add_jobs(jobs)
    sched = pol.scheduler(board, preempt=Capability.PREEMPT in capabilities)
    run = _Run(board, len(jobs), record_runs)
    run.loop(sched, progress, sample_every)
    return run.result(pol.name, mode, workload, sched.rejected)


class _Run:
    """The mutable state of one simulation run."""

    def __init__(self, board: Board, n: int, record: bool) -> None:
        self.board = board
        self.record = record
        self.cur: dict[int, tuple[float, tuple[tuple[int, int, int], ...]]] = {}
        self.runs: list[RunRecord] = []
        self.n = n
        self.first_start = [-1.0] * n
        self.end = [-1.0] * n
        self.ran = [0.0] * n
        self.preemptions = [0] * n
        self.busy = 0.0
        self.series: list[tuple[float, int]] = []

    def loop(self, sched: Scheduler, progress: ProgressFn | None, sample_every: float) -> None:
        b = self.board
        n = self.n
        submit, work, start, gpus, attained = b.submit, b.work, b.start, b.gpus, b.attained
        first_start, end, ran, preemptions = self.first_start, self.end, self.ran, self.preemptions
        version = [0] * n
        ends: list[tuple[float, int, int]] = []
        pop, push = heapq.heappop, heapq.heappush
        inf = math.inf
        i = 0
        pending = 0
        done = 0
        next_sample = submit[0] if n else 0.0
        busy = 0.0
        wake = inf
        finish, sub, schedule = sched.finish, sched.submit, sched.schedule
        while i < n or ends:
            t = submit[i] if i < n else inf
            if ends and ends[0][0] < t:
                t = ends[0][0]
            if wake < t:
                t = wake
            while ends and ends[0][0] <= t:
                _, j, v = pop(ends)
                if v != version[j]:
                    continue
                finish(j, t)
                ran[j] = attained[j] / gpus[j] + t - start[j]
                busy += gpus[j] * ran[j]
                end[j] = t
                done += 1
                if self.record:
                    self._close(j, t)
            while i < n and submit[i] <= t:
                if sub(i, t):
                    pending += 1
                i += 1
            started, preempted = schedule(t)
            for j in preempted:
                version[j] += 1
                preemptions[j] += 1
                pending += 1
                if self.record:
                    self._close(j, t)
            for j in started:
                if first_start[j] < 0:
                    first_start[j] = t
                push(ends, (t + work[j], j, version[j]))
                if self.record:
                    self.cur[j] = (t, b.place[j] or ())
            pending -= len(started)
            wake = sched.next_wakeup(t)
            if t >= next_sample:
                self.series.append((t, pending))
                next_sample = t + sample_every
                if progress is not None:
                    progress(done, n)
        self.busy = busy
        if progress is not None:
            progress(done, n)

    def _close(self, j: int, t: float) -> None:
        b = self.board
        began, raw = self.cur.pop(j)
        slots = tuple(
            (b.node_ids[n], tuple(i for i in range(bits.bit_length()) if bits >> i & 1))
            for n, bits, _ in raw
        )
        self.runs.append(RunRecord(b.jobs[j].id, began, t, slots))

    def result(self, name: str, mode: Mode, wl: Workload, rejected: list[int]) -> SimResult:
        b = self.board
        records = []
        for j in range(self.n):
            if self.end[j] < 0:
                continue
            jct = self.end[j] - b.submit[j]
            records.append(
                JobRecord(
                    b.jobs[j].id,
                    b.jobs[j].tenant,
                    b.gpus[j],
                    b.submit[j],
                    self.first_start[j],
                    self.end[j],
                    jct - self.ran[j],
                    self.preemptions[j],
                )
            )
        return SimResult(
            policy=name,
            mode=mode,
            records=tuple(records),
            rejected=tuple(b.jobs[j].id for j in rejected),
            queue_series=tuple(self.series),
            busy_gpu_seconds=self.busy,
            total_gpus=sum(b.node_cap),
            first_submit=b.submit[0] if self.n else 0.0,
            last_end=max(self.end, default=0.0),
            dropped_unknown_tenant=wl.dropped_unknown_tenant,
            runs=tuple(self.runs),
        )
