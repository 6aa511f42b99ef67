"""``sjf``: shortest job first, an ORACLE (reference bound only).

Reads each job's true ``duration``, which no live scheduler knows: use it to bound what a
perfect run-time predictor could give, never in production. Order: duration, then submission
time; strict (the head of each pool blocks it, as in the Helios simulator); never preempts.
Jobs without a duration sort last.
"""

from __future__ import annotations

import math

from ailab.scheduling.board import Board
from ailab.scheduling.policies.base import Policy, Scheduler, StrictScheduler


class _Sjf(StrictScheduler):
    def key(self, j: int) -> tuple[float, ...]:
        d = self.board.jobs[j].duration
        return (math.inf if d is None else d, self.board.submit[j])


class Sjf(Policy):
    name = "sjf"
    oracle = True

    def scheduler(self, board: Board, *, preempt: bool) -> Scheduler:
        return _Sjf(board, preempt=preempt)
