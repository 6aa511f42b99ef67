"""``las``: Tiresias' two-queue discretised least attained service, with preemption.

Assumes nothing about run times: a job's priority is the GPU-service it has attained so far.
Jobs below ``threshold`` GPU-seconds (18,000 in Tiresias and the Lucid artifact) are in the
high queue, the others in the low queue; within a queue, first come first served. Priorities are
revised every ``round`` seconds (60). As in the Helios/Lucid engine, all jobs of a pool in that
order are walked and selected while their GPUs fit the pool's GPU count; running jobs not
selected are preempted (and pay a checkpoint cost), selected pending jobs are placed in order,
skipping those that do not fit the nodes. Without ``Capability.PREEMPT`` running jobs keep their
GPUs and only the pending jobs are ordered this way.
"""

from __future__ import annotations

import math

from ailab.scheduling.board import Board
from ailab.scheduling.policies.base import Policy, Scheduler


class _Las(Scheduler):
    def __init__(self, board: Board, *, preempt: bool, threshold: float, round_s: float) -> None:
        super().__init__(board, preempt=preempt)
        self.threshold = threshold
        self.round_s = round_s
        self.pend: list[list[int]] = [[] for _ in board.pools]
        self.wake_at = math.inf

    def enqueue(self, j: int, now: float) -> None:
        b = self.board
        self.pend[b.tenant_pool[b.tenant[j]]].append(j)

    def service(self, j: int, now: float) -> float:
        b = self.board
        if j in self.running:
            return b.attained[j] + b.gpus[j] * (now - b.start[j])
        return b.attained[j]

    def key(self, j: int, now: float) -> tuple[int, float, int]:
        level = 0 if self.service(j, now) < self.threshold else 1
        return (level, self.board.submit[j], j)

    def _pool_running(self, p: int) -> list[int]:
        b = self.board
        return [r for r in self.running if b.tenant_pool[b.tenant[r]] == p]

    def schedule(self, now: float) -> tuple[list[int], list[int]]:
        started: list[int] = []
        preempted: list[int] = []
        if now >= self.wake_at:
            self.dirty.update(p for p, q in enumerate(self.pend) if q)
        for p in sorted(self.dirty):
            if self.pend[p]:
                self._pass(p, now, started, preempted)
        self.dirty.clear()
        return started, preempted

    def _pass(self, p: int, now: float, started: list[int], preempted: list[int]) -> None:
        b = self.board
        gpus = b.gpus
        pend = sorted(self.pend[p], key=lambda j: self.key(j, now))
        runs = self._pool_running(p)
        quota = b.pools[p].cap
        if self.can_preempt:
            items = sorted(pend + runs, key=lambda j: self.key(j, now))
        else:
            quota -= sum(gpus[r] for r in runs)
            items, runs = pend, []
        running = set(runs)
        prerun: list[int] = []
        out: list[int] = []
        for j in items:
            if gpus[j] <= quota:
                quota -= gpus[j]
                if j not in running:
                    prerun.append(j)
            elif j in running:
                out.append(j)
        for j in out:
            self.preempt(j, now, "jobs with less attained service")
            pend.append(j)
        preempted.extend(out)
        pool = b.pools[p]
        ok = {j for j in prerun if self.start(pool, j, now)}
        started.extend(j for j in prerun if j in ok)
        self.pend[p] = [j for j in pend if j not in ok]

    def next_wakeup(self, now: float) -> float:
        if now >= self.wake_at or self.wake_at == math.inf:
            busy = any(self.pend)
            self.wake_at = now + self.round_s if busy else math.inf
        return self.wake_at

    def pending_order(self, now: float) -> list[int]:
        return [j for q in self.pend for j in sorted(q, key=lambda j: self.key(j, now))]


class Las(Policy):
    name = "las"

    def __init__(self, threshold: float = 18_000.0, round_s: float = 60.0) -> None:
        self.threshold = threshold
        self.round_s = round_s

    def scheduler(self, board: Board, *, preempt: bool) -> Scheduler:
        return _Las(board, preempt=preempt, threshold=self.threshold, round_s=self.round_s)
