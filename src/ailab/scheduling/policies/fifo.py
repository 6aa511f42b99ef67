"""``fifo``: first come, first served, strictly.

Assumes nothing about run times. Each pool serves its jobs in submission order (ties: the
order the jobs were given); when the oldest job does not fit, nothing behind it starts (the
head blocks), as in the Helios simulator. Never preempts.
"""

from __future__ import annotations

from ailab.scheduling.board import Board
from ailab.scheduling.policies.base import Policy, Scheduler, StrictScheduler


class _Fifo(StrictScheduler):
    def key(self, j: int) -> tuple[float, ...]:
        return (self.board.submit[j],)


class Fifo(Policy):
    name = "fifo"

    def scheduler(self, board: Board, *, preempt: bool) -> Scheduler:
        return _Fifo(board, preempt=preempt)
