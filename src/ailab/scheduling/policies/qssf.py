"""``qssf``: quasi-shortest-service first (Helios), with run times learned online.

Priority = GPUs x estimated run time, smaller first; ties by submission time. The estimate is
the job's own ``estimate`` if the caller set one, else what :class:`RuntimeEstimator` learned
from the jobs that completed earlier (median of the latest run times of the same tenant, user
and name, falling back to coarser groups). It never reads the true duration. Strict: the head
of each pool blocks it, as in the Helios simulator. Never preempts.
"""

from __future__ import annotations

from ailab.scheduling.board import Board
from ailab.scheduling.estimate import RuntimeEstimator
from ailab.scheduling.policies.base import Policy, Scheduler, StrictScheduler


class _Qssf(StrictScheduler):
    def __init__(self, board: Board, *, preempt: bool) -> None:
        super().__init__(board, preempt=preempt)
        self.estimator = RuntimeEstimator()

    def key(self, j: int) -> tuple[float, ...]:
        b = self.board
        job = b.jobs[j]
        est = job.estimate if job.estimate is not None else self.estimator.predict(job)
        return (b.gpus[j] * est, b.submit[j])

    def on_finish(self, j: int, now: float) -> None:
        b = self.board
        job = b.jobs[j]
        self.estimator.observe(job, b.attained[j] / max(b.gpus[j], 1) + now - b.start[j])


class Qssf(Policy):
    name = "qssf"

    def scheduler(self, board: Board, *, preempt: bool) -> Scheduler:
        return _Qssf(board, preempt=preempt)
