"""``fairshare``: Slurm's multifactor priority (fair share and age) with EASY backfilling.

Assumes tenants' ``weight`` are their shares and ``ClusterState.usage`` their decayed past use
(GPU-seconds, Slurm's PriorityDecayHalfLife). Priority = ``w_fairshare`` x 2^(-U/S) +
``w_age`` x min(age / ``max_age``, 1), where U is the tenant's share of all decayed usage and S
its share of all weights (Slurm's classic fair-share factor). Higher first; ties by submission.
Priorities are recomputed every ``recalc`` seconds (Slurm's PriorityCalcPeriod) and when a job
arrives or ends; usage is charged when a job ends and decays with ``half_life``. Never preempts.
"""

from __future__ import annotations

from ailab.scheduling.board import Board
from ailab.scheduling.estimate import RuntimeEstimator
from ailab.scheduling.policies.base import Policy, Scheduler
from ailab.scheduling.policies.easy import easy_pass, runtime_of


class _FairShare(Scheduler):
    def __init__(self, board: Board, *, preempt: bool, policy: FairShare) -> None:
        super().__init__(board, preempt=preempt)
        self.p = policy
        self.estimator = RuntimeEstimator()
        self.queues: list[list[int]] = [[] for _ in board.pools]
        self.usage = list(board.usage)
        self.usage_at = 0.0
        self.sorted_at = [-float("inf")] * len(board.pools)
        self.usage_at_set = False
        self.wake_at = float("inf")

    def _decay_to(self, now: float) -> None:
        if not self.usage_at_set:
            self.usage_at, self.usage_at_set = now, True
            return
        if now > self.usage_at:
            f = 0.5 ** ((now - self.usage_at) / self.p.half_life)
            self.usage = [u * f for u in self.usage]
            self.usage_at = now

    def enqueue(self, j: int, now: float) -> None:
        b = self.board
        p = b.tenant_pool[b.tenant[j]]
        self.queues[p].append(j)
        self.sorted_at[p] = -float("inf")

    def on_finish(self, j: int, now: float) -> None:
        b = self.board
        run = b.attained[j] / max(b.gpus[j], 1) + now - b.start[j]
        self.estimator.observe(b.jobs[j], run)
        self._decay_to(now)
        self.usage[b.tenant[j]] += b.gpus[j] * run
        self.sorted_at = [-float("inf")] * len(self.sorted_at)

    def priority(self, j: int, now: float) -> float:
        b = self.board
        t = b.tenant[j]
        total_u = sum(self.usage) or 1.0
        total_w = sum(b.weight) or 1.0
        share = b.weight[t] / total_w
        fs = 2.0 ** (-(self.usage[t] / total_u) / share) if share > 0 else 0.0
        age = min((now - b.submit[j]) / self.p.max_age, 1.0)
        return self.p.w_fairshare * fs + self.p.w_age * age

    def _order(self, p: int, now: float) -> list[int]:
        q = self.queues[p]
        if now - self.sorted_at[p] >= self.p.recalc:
            self._decay_to(now)
            b = self.board
            q.sort(key=lambda j: (-self.priority(j, now), b.submit[j], j))
            self.sorted_at[p] = now
        return q

    def schedule(self, now: float) -> tuple[list[int], list[int]]:
        started: list[int] = []
        rt = self.runtime
        if now >= self.wake_at:
            self.dirty.update(p for p, q in enumerate(self.queues) if q)
        for p in sorted(self.dirty):
            if not self.queues[p]:
                continue
            order = self._order(p, now)
            got, _ = easy_pass(self, self.board.pools[p], order, now, rt, self.p.scan_limit)
            if got:
                done = set(got)
                self.queues[p] = [j for j in order if j not in done]
                started.extend(got)
        self.dirty.clear()
        return started, []

    def runtime(self, j: int) -> float:
        return runtime_of(self, self.estimator, j)

    def next_wakeup(self, now: float) -> float:
        if now >= self.wake_at:
            self.wake_at = now + self.p.recalc if any(self.queues) else float("inf")
        return self.wake_at

    def pending_order(self, now: float) -> list[int]:
        return [j for p in range(len(self.queues)) for j in self._order(p, now)]


class FairShare(Policy):
    name = "fairshare"

    def __init__(
        self,
        *,
        w_fairshare: float = 10_000.0,
        w_age: float = 1_000.0,
        max_age: float = 7 * 86400.0,
        half_life: float = 7 * 86400.0,
        recalc: float = 300.0,
        scan_limit: int = 256,
    ) -> None:
        self.w_fairshare, self.w_age, self.max_age = w_fairshare, w_age, max_age
        self.half_life, self.recalc, self.scan_limit = half_life, recalc, scan_limit

    def scheduler(self, board: Board, *, preempt: bool) -> Scheduler:
        return _FairShare(board, preempt=preempt, policy=self)
