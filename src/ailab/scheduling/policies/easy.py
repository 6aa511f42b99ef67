"""EASY backfilling, shared by ``backfill`` and ``fairshare``.

Jobs start in priority order while they fit. The first that does not (the head) gets a
reservation: the earliest time enough GPUs of its pool will be free, counting running jobs as
ending at ``start + run time`` (the job's ``time_limit``, else its ``estimate``, else the
learned estimate). Later jobs start now only if they fit now and either end before that time or
use only GPUs the head will not need then. The reservation counts GPUs, not their placement on
nodes, as Slurm's backfill does with its resolution; a scan looks at ``scan_limit`` jobs at most.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ailab.scheduling.board import Pool
from ailab.scheduling.estimate import RuntimeEstimator
from ailab.scheduling.policies.base import Scheduler


def runtime_of(sched: Scheduler, estimator: RuntimeEstimator, j: int) -> float:
    """What the policy may assume about the run time of job ``j`` (never the true duration)."""
    job = sched.board.jobs[j]
    if job.time_limit is not None:
        return job.time_limit
    if job.estimate is not None:
        return job.estimate
    return estimator.predict(job)


def shadow(
    sched: Scheduler, pool: Pool, head: int, now: float, runtime: Callable[[int], float]
) -> tuple[float, int]:
    """(time the head can start, GPUs spare then) from the running jobs' expected ends."""
    b = sched.board
    p = pool.index
    ends = sorted(
        (max(b.start[r] + runtime(r), now), r)
        for r in sched.running
        if b.tenant_pool[b.tenant[r]] == p
    )
    free = pool.free
    need = b.gpus[head]
    for end, r in ends:
        free += b.gpus[r]
        if free >= need:
            return end, free - need
    return float("inf"), 0


def easy_pass(
    sched: Scheduler,
    pool: Pool,
    order: Sequence[int],
    now: float,
    runtime: Callable[[int], float],
    scan_limit: int,
) -> tuple[list[int], int]:
    """Start what EASY allows from ``order``; returns (started, head or -1)."""
    started: list[int] = []
    head = -1
    k = 0
    for k, j in enumerate(order):  # noqa: B007 - k is used after the loop
        if not sched.start(pool, j, now):
            head = j
            break
        started.append(j)
    if head < 0:
        return started, -1
    until, extra = shadow(sched, pool, head, now, runtime)
    gpus = sched.board.gpus
    for j in order[k + 1 : k + 1 + scan_limit]:
        if pool.free <= 0:
            break
        g = gpus[j]
        if g > pool.free:
            continue
        ends_in_time = now + runtime(j) <= until
        if (ends_in_time or g <= extra) and sched.start(pool, j, now):
            started.append(j)
            if not ends_in_time:
                extra -= g
    return started, head
