"""What every policy shares: the ``Policy`` factory and the ``Scheduler`` that runs on a board.

A policy is a small immutable object with a name and parameters; ``policy.scheduler(board,
preempt=...)`` returns a scheduler bound to one board. The scheduler is told about jobs
(``submit``, ``finish``, ``restore_running``) and, on ``schedule(now)``, starts and preempts
jobs on the board itself and returns what it did. ``plan()`` uses a fresh scheduler per call;
the simulator keeps one for a whole run, so that policies can keep incremental structures
(heaps per pool, learned estimates) between events. The decisions are the same code either way.
"""

from __future__ import annotations

import heapq
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from ailab.scheduling.board import Board, Pool, checkpoint_cost
from ailab.scheduling.model import Job, PendingJob, RunningJob, Wait, WaitReason
from ailab.scheduling.waits import decisions_of

# (job, why it waits, free detail)
Reason = tuple[int, WaitReason, str]


class Scheduler(ABC):
    """Scheduling state of one policy on one board."""

    def __init__(self, board: Board, *, preempt: bool) -> None:
        self.board = board
        self.can_preempt = preempt
        self.running: set[int] = set()
        self.dirty: set[int] = set()
        self.rejected: list[int] = []
        self.preempt_reasons: dict[int, str] = {}

    # events ---------------------------------------------------------------

    def restore_running(self, j: int, start: float, attained: float, now: float) -> None:
        """A job of the snapshot that already runs (its GPUs are marked on the board) at ``now``.

        A job of a tenant the state does not know keeps its GPUs but is invisible to the
        policy: never preempted, never counted in a pool's running jobs.
        """
        b = self.board
        if b.tenant[j] < 0:
            return
        b.start[j] = start
        b.attained[j] = attained
        job = b.jobs[j]
        if job.duration is not None and b.gpus[j] > 0:
            b.work[j] = max(job.duration - attained / b.gpus[j], 0.0)
        self.running.add(j)
        self.on_restore(j, now)

    def restore_all(self, running: Sequence[RunningJob], now: float) -> None:
        """``restore_running`` for each job of a snapshot (board indices ``0..R-1``)."""
        for j, rj in enumerate(running):
            self.restore_running(j, rj.start_time, rj.attained, now)

    def submit(self, j: int, now: float) -> bool:
        """A job enters the queue; False (and counted in ``rejected``) if it never fits."""
        b = self.board
        t = b.tenant[j]
        if t < 0:
            self.rejected.append(j)
            return False
        p = b.tenant_pool[t]
        g = b.gpus[j]
        pool = b.pools[p]
        if g > pool.cap or g <= 0 or (g > pool.gmax and not b.multi_node):
            self.rejected.append(j)
            return False
        self.enqueue(j, now)
        self.dirty.add(p)
        return True

    def submit_all(self, jobs: list[int], now: float) -> None:
        """Submit many jobs at once (a snapshot's queue); same effect as ``submit`` each."""
        b = self.board
        ok: list[int] = []
        pools, tenant_pool, multi = b.pools, b.tenant_pool, b.multi_node
        for j in jobs:
            t = b.tenant[j]
            g = b.gpus[j]
            if t < 0 or g <= 0:
                self.rejected.append(j)
                continue
            pool = pools[tenant_pool[t]]
            if g > pool.cap or (g > pool.gmax and not multi):
                self.rejected.append(j)
            else:
                ok.append(j)
                self.dirty.add(b.tenant_pool[t])
        self.enqueue_all(ok, now)

    def enqueue_all(self, jobs: list[int], now: float) -> None:
        """Enqueue many jobs; policies with heaps override this to heapify once."""
        for j in jobs:
            self.enqueue(j, now)

    def finish(self, j: int, now: float) -> None:
        """A running job ended on its own (completed, failed or cancelled)."""
        b = self.board
        b.release(j)
        self.running.discard(j)
        self.dirty.add(b.tenant_pool[b.tenant[j]])
        self.on_finish(j, now)

    def start(self, pool: Pool, j: int, now: float) -> bool:
        """Place ``j`` in ``pool`` if it fits now; on success it runs from ``now``."""
        b = self.board
        if not b.alloc(pool, j):
            return False
        b.start[j] = now
        self.running.add(j)
        return True

    def preempt(self, j: int, now: float, reason: str) -> None:
        """Stop a running job: it keeps its service and pays a checkpoint cost on restart."""
        b = self.board
        ran = now - b.start[j]
        b.attained[j] += b.gpus[j] * ran
        b.work[j] = max(b.work[j] - ran, 0.0) + checkpoint_cost(b.gpus[j])
        b.release(j)
        self.running.discard(j)
        self.preempt_reasons[j] = reason
        self.dirty.add(b.tenant_pool[b.tenant[j]])

    def preempt_reason(self, j: int) -> str:
        return self.preempt_reasons.get(j, "priority")

    # policy hooks ---------------------------------------------------------

    @abstractmethod
    def enqueue(self, j: int, now: float) -> None:
        """Add a pending job (new, or preempted and back in the queue)."""

    @abstractmethod
    def schedule(self, now: float) -> tuple[list[int], list[int]]:
        """Start and preempt jobs on the board now; returns (started, preempted)."""

    @abstractmethod
    def pending_order(self, now: float) -> list[int]:
        """Every pending job, in the order the policy would serve them."""

    def next_wakeup(self, now: float) -> float:
        """When to call ``schedule`` again even if no job arrives or ends (``inf``: never)."""
        return math.inf

    def on_restore(self, j: int, now: float) -> None:  # noqa: B027 - optional hook
        """A running job from a snapshot was registered (the snapshot is of ``now``)."""

    def on_finish(self, j: int, now: float) -> None:  # noqa: B027 - optional hook
        """A job completed; learning policies update their estimates here."""

    def rejection_reasons(self) -> list[Reason]:
        """The jobs refused at submission: unknown tenant, never fits, or needs several nodes
        that the backend cannot give one job."""
        b = self.board
        out: list[Reason] = []
        for j in self.rejected:
            pool = b.pool_of(j)
            if pool is None:
                out.append((j, WaitReason.UNKNOWN_TENANT, ""))
            elif b.gpus[j] > pool.cap or b.gpus[j] <= 0:
                out.append((j, WaitReason.NEVER_FITS, f"{b.gpus[j]} GPUs, the pool has {pool.cap}"))
            else:
                out.append((j, WaitReason.NEEDS_MULTI_NODE, f"its nodes have {pool.gmax} GPUs"))
        return out

    def ingest(self, pending: Sequence[Job | PendingJob], now: float) -> bool:
        """Take a snapshot's whole queue at once, registering its jobs on the board itself;
        False (nothing done) if the policy does not: the caller registers and submits them."""
        return False

    def wait_decisions(self, now: float) -> list[Wait]:
        """The ``Wait`` of every pending job, in the policy's order (see ``wait_reasons``)."""
        return decisions_of(self.board.jobs, self.wait_reasons(now))

    def wait_reasons(self, now: float) -> list[Reason]:
        """Why each pending job is not running, in the policy's order."""
        b = self.board
        out: list[Reason] = self.rejection_reasons()
        heads: dict[int, int] = {}
        for j in self.pending_order(now):
            t = b.tenant[j]
            p = b.tenant_pool[t]
            if p not in heads:
                heads[p] = j
                out.append((j, WaitReason.RESOURCES, ""))
            else:
                out.append((j, WaitReason.PRIORITY, ""))
        return out


class Policy(ABC):
    """A scheduling policy: a name, a docstring with its assumptions, and a scheduler."""

    name: str = ""
    oracle: bool = False

    @abstractmethod
    def scheduler(self, board: Board, *, preempt: bool) -> Scheduler:
        """A fresh scheduler bound to ``board``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class StrictScheduler(Scheduler):
    """Per-pool priority queue with a static key; the head of each pool's queue blocks it.

    Subclasses define ``key(j)``: a tuple fixed when the job enters the queue, smaller first;
    the job index breaks ties (the order jobs were registered, i.e. submission order).
    """

    def __init__(self, board: Board, *, preempt: bool) -> None:
        super().__init__(board, preempt=preempt)
        self.heaps: list[list[Any]] = [[] for _ in board.pools]

    @abstractmethod
    def key(self, j: int) -> tuple[float, ...]:
        """The job's place in the queue (smaller first)."""

    def enqueue(self, j: int, now: float) -> None:
        b = self.board
        heapq.heappush(self.heaps[b.tenant_pool[b.tenant[j]]], (*self.key(j), j))

    def enqueue_all(self, jobs: list[int], now: float) -> None:
        b = self.board
        for j in jobs:
            self.heaps[b.tenant_pool[b.tenant[j]]].append((*self.key(j), j))
        for h in self.heaps:
            heapq.heapify(h)

    def schedule(self, now: float) -> tuple[list[int], list[int]]:
        started: list[int] = []
        b = self.board
        alloc = b.alloc
        dirty = self.dirty
        for p in sorted(dirty) if len(dirty) > 1 else dirty:
            heap = self.heaps[p]
            pool = b.pools[p]
            while heap:
                j = heap[0][-1]
                if not alloc(pool, j):
                    break
                heapq.heappop(heap)
                b.start[j] = now
                started.append(j)
        if started:
            self.running.update(started)
        dirty.clear()
        return started, []

    def pending_order(self, now: float) -> list[int]:
        out: list[int] = []
        for heap in self.heaps:
            out.extend(e[-1] for e in sorted(heap))
        return out

    def wait_reasons(self, now: float) -> list[Reason]:
        out = self.rejection_reasons()
        resources, priority = WaitReason.RESOURCES, WaitReason.PRIORITY
        for heap in self.heaps:
            if heap:
                order = sorted(heap)
                out.append((order[0][-1], resources, ""))
                out.extend([(e[-1], priority, "") for e in order[1:]])
        return out
