"""``srtf``: shortest remaining time first with preemption, an ORACLE (reference bound only).

Reads each job's true ``duration`` (remaining = duration - time run so far + checkpoint costs
owed), which no live scheduler knows: a bound, not a production policy. As in the Helios
simulator: all jobs of a pool, running and pending, in order of remaining time (pending first
on ties); walking that order, a job is selected while its GPUs fit in what is left of the
pool's GPU count; running jobs that are not selected are preempted (they pay a checkpoint cost)
and selected pending jobs are placed in order, skipping those that do not fit the nodes (no
head blocking). Without ``Capability.PREEMPT`` running jobs keep their GPUs and only the pending
jobs are selected this way.
"""

from __future__ import annotations

import bisect
from itertools import accumulate

from ailab.scheduling.board import Board
from ailab.scheduling.policies.base import Policy, Scheduler


class _Srtf(Scheduler):
    def __init__(self, board: Board, *, preempt: bool) -> None:
        super().__init__(board, preempt=preempt)
        # per pool: pending as sorted (remaining, j); running as sorted (end, j)
        self.pend: list[list[tuple[float, int]]] = [[] for _ in board.pools]
        self.runs: list[list[tuple[float, int]]] = [[] for _ in board.pools]

    def _pool(self, j: int) -> int:
        return self.board.tenant_pool[self.board.tenant[j]]

    def enqueue(self, j: int, now: float) -> None:
        bisect.insort(self.pend[self._pool(j)], (self.board.work[j], j))

    def on_restore(self, j: int, now: float) -> None:
        b = self.board
        bisect.insort(self.runs[self._pool(j)], (b.start[j] + b.work[j], j))

    def on_finish(self, j: int, now: float) -> None:
        runs = self.runs[self._pool(j)]
        for k, (_, r) in enumerate(runs):
            if r == j:
                del runs[k]
                break

    def schedule(self, now: float) -> tuple[list[int], list[int]]:
        started: list[int] = []
        preempted: list[int] = []
        for p in sorted(self.dirty):
            if self.pend[p]:
                self._pass(p, now, started, preempted)
        self.dirty.clear()
        return started, preempted

    def _select(self, p: int, now: float) -> tuple[list[int], list[int]]:
        """Helios' greedy walk: (pending jobs selected, running jobs not selected).

        Running jobs between two pending ones in the order are taken as a block when they all
        fit (prefix sums), which is what makes this fast; otherwise one by one.
        """
        gpus = self.board.gpus
        pend, runs = self.pend[p], self.runs[p]
        quota = self.board.pools[p].cap
        if not self.can_preempt:
            quota -= sum(gpus[j] for _, j in runs)
            runs = []
        acc = [0, *accumulate([gpus[j] for _, j in runs])]
        prerun: list[int] = []
        out: list[int] = []
        ri = 0
        nr = len(runs)
        for w, j in pend:
            if quota <= 0:
                break
            k = bisect.bisect_left(runs, (w + now, -1), ri) if ri < nr else nr
            if k > ri:
                quota = self._walk_runs(runs, ri, k, quota, acc, out)
                ri = k
            if gpus[j] <= quota:
                quota -= gpus[j]
                prerun.append(j)
        if ri < nr:
            self._walk_runs(runs, ri, nr, quota, acc, out)
        return prerun, out

    def _walk_runs(
        self,
        runs: list[tuple[float, int]],
        lo: int,
        hi: int,
        quota: int,
        acc: list[int],
        out: list[int],
    ) -> int:
        """Select running jobs ``runs[lo:hi]`` greedily; the others go to ``out``."""
        block = acc[hi] - acc[lo]
        if block <= quota:
            return quota - block
        gpus = self.board.gpus
        for _, j in runs[lo:hi]:
            if gpus[j] <= quota:
                quota -= gpus[j]
            else:
                out.append(j)
        return quota

    def _pass(self, p: int, now: float, started: list[int], preempted: list[int]) -> None:
        b = self.board
        prerun, out = self._select(p, now)
        if out:
            gone = set(out)
            self.runs[p] = [e for e in self.runs[p] if e[1] not in gone]
            for j in out:
                self.preempt(j, now, "shorter jobs")
                bisect.insort(self.pend[p], (b.work[j], j))
            preempted.extend(out)
        pool = b.pools[p]
        ok: set[int] = set()
        for j in prerun:
            if self.start(pool, j, now):
                ok.add(j)
                started.append(j)
                bisect.insort(self.runs[p], (now + b.work[j], j))
        if ok:
            self.pend[p] = [e for e in self.pend[p] if e[1] not in ok]
        self.dirty.discard(p)

    def pending_order(self, now: float) -> list[int]:
        return [j for pend in self.pend for _, j in pend]


class Srtf(Policy):
    name = "srtf"
    oracle = True

    def scheduler(self, board: Board, *, preempt: bool) -> Scheduler:
        return _Srtf(board, preempt=preempt)
