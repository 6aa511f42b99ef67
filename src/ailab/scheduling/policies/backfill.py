"""``backfill``: first come, first served with EASY backfilling.

Assumes run times are known well enough to reserve: a job's ``time_limit`` (as Slurm users
declare), else its ``estimate``, else one learned online from completed jobs (never the true
duration). Each pool serves jobs in submission order; the first job that does not fit gets a
reservation, and later jobs start only if they do not delay it (see :mod:`.easy`). Never
preempts.
"""

from __future__ import annotations

import bisect

from ailab.scheduling.board import Board
from ailab.scheduling.estimate import RuntimeEstimator
from ailab.scheduling.model import WaitReason
from ailab.scheduling.policies.base import Policy, Reason, Scheduler
from ailab.scheduling.policies.easy import easy_pass, runtime_of


class _Backfill(Scheduler):
    def __init__(self, board: Board, *, preempt: bool, scan_limit: int) -> None:
        super().__init__(board, preempt=preempt)
        self.estimator = RuntimeEstimator()
        self.scan_limit = scan_limit
        self.queues: list[list[tuple[float, int]]] = [[] for _ in board.pools]
        self.heads: dict[int, int] = {}

    def enqueue(self, j: int, now: float) -> None:
        b = self.board
        bisect.insort(self.queues[b.tenant_pool[b.tenant[j]]], (b.submit[j], j))

    def enqueue_all(self, jobs: list[int], now: float) -> None:
        b = self.board
        for j in jobs:
            self.queues[b.tenant_pool[b.tenant[j]]].append((b.submit[j], j))
        for q in self.queues:
            q.sort()

    def on_finish(self, j: int, now: float) -> None:
        b = self.board
        self.estimator.observe(b.jobs[j], b.attained[j] / max(b.gpus[j], 1) + now - b.start[j])

    def runtime(self, j: int) -> float:
        return runtime_of(self, self.estimator, j)

    def schedule(self, now: float) -> tuple[list[int], list[int]]:
        started: list[int] = []
        for p in sorted(self.dirty):
            q = self.queues[p]
            if not q:
                continue
            order = [j for _, j in q]
            got, head = easy_pass(
                self, self.board.pools[p], order, now, self.runtime, self.scan_limit
            )
            self.heads[p] = head
            if got:
                done = set(got)
                self.queues[p] = [e for e in q if e[1] not in done]
                started.extend(got)
        self.dirty.clear()
        return started, []

    def pending_order(self, now: float) -> list[int]:
        return [j for q in self.queues for _, j in q]

    def wait_reasons(self, now: float) -> list[Reason]:
        b = self.board
        out: list[Reason] = self.rejection_reasons()
        for p, q in enumerate(self.queues):
            head = self.heads.get(p, -1)
            for _, j in q:
                if j == head or head < 0:
                    out.append((j, WaitReason.RESOURCES, ""))
                else:
                    out.append((j, WaitReason.RESERVED, b.jobs[head].id))
        return out


class Backfill(Policy):
    name = "backfill"

    def __init__(self, scan_limit: int = 256) -> None:
        self.scan_limit = scan_limit

    def scheduler(self, board: Board, *, preempt: bool) -> Scheduler:
        return _Backfill(board, preempt=preempt, scan_limit=self.scan_limit)
