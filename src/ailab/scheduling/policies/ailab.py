"""``ailab``: the project's default. Quotas are guarantees, idle GPUs are lent, lent GPUs return.

Assumes: each tenant's ``quota_gpus`` is what it is guaranteed (in shared mode the quotas add up
to at most the pool); run times are unknown, so it orders jobs by an estimate learned online
(:class:`RuntimeEstimator`, never the true duration) and lets a job's age raise it.

Within a tenant, jobs are served in order of (level, GPUs x estimated run time, submission):
qssf-like, shortest estimated service first. The level is Tiresias' two-queue discretised
least attained service: 0 while a job has received less than ``threshold`` GPU-seconds, 1
after; a running job that crosses the threshold is demoted and its own tenant's level-0 jobs
may preempt it (heavy-tailed run times make a job that has run long likely to run longer). A
pass:

1. Guarantees: tenants furthest below their quota first; each starts its jobs in order while
   they fit in its quota. A job that fits the quota but not the free GPUs reclaims lent GPUs:
   jobs of tenants above their quota that were started as loans are preempted (they keep their
   progress and pay a checkpoint cost), on the node(s) where that frees enough with the least
   preemption; a level-0 job may also preempt its own tenant's demoted jobs, counting their
   GPUs as its tenant's to give. Without ``Capability.PREEMPT`` nothing is reclaimed.
2. Lending and backfill: the remaining jobs of every tenant, in one global order of
   (level, (GPUs x estimate) / (1 + age / 1 h)), start wherever they fit now (no head
   blocking, except that a level-0 job that has waited ``starve_after`` and does not fit stops
   the pass: what frees up is kept for it); a job started beyond its tenant's quota is a loan
   and can be reclaimed. A level-0
   job that does not fit may preempt demoted loans of other tenants (and its own tenant's
   demoted jobs): borrowed GPUs go to the job with the least service, never a guarantee.

One pass preempts at most ``max_preemptions`` jobs, and stops trying to preempt for lending
after one attempt that fails.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any

from ailab.scheduling.board import Board, Pool
from ailab.scheduling.estimate import RuntimeEstimator
from ailab.scheduling.model import PendingJob, RunningJob, Wait, WaitReason
from ailab.scheduling.policies.base import Policy, Reason, Scheduler
from ailab.scheduling.policies.queues import (
    Entry,
    HeapQueue,
    Item,
    RunQueue,
    group_pending,
    tenant_run,
)
from ailab.scheduling.waits import decisions_of, wait_of

_JOB = attrgetter("job")
_DURATION = attrgetter("duration")
_START = attrgetter("start_time")
_ATTAINED = attrgetter("attained")


class _Ailab(Scheduler):
    def __init__(self, board: Board, *, preempt: bool, policy: Ailab) -> None:
        super().__init__(board, preempt=preempt)
        self.estimator = RuntimeEstimator()
        self.scan_limit = policy.scan_limit
        self.max_preempt = policy.max_preemptions
        self.max_starts = policy.max_starts
        self.starve_after = policy.starve_after
        self.capped = False
        self.budget = 0
        self.threshold = policy.threshold
        self.queues: list[HeapQueue | RunQueue] = [HeapQueue() for _ in board.tenant_ids]
        self.loans: set[int] = set()
        self.loans_by: list[set[int]] = [set() for _ in board.tenant_ids]
        self.demoted_by: list[set[int]] = [set() for _ in board.tenant_ids]
        self.demoted: set[int] = set()
        self.demoted_held = [0] * len(board.tenant_ids)
        # (time the job's service crosses the threshold, job, its start time then)
        self.timers: list[tuple[float, int, float]] = []
        self.fresh: set[int] = set()

    # bookkeeping ----------------------------------------------------------

    def _entry(self, j: int) -> Entry:
        b = self.board
        job = b.jobs[j]
        est = job.estimate if job.estimate is not None else self.estimator.predict(job)
        level = 0 if b.attained[j] < self.threshold else 1
        return (level, b.gpus[j] * est, b.submit[j], j)

    def enqueue(self, j: int, now: float) -> None:
        self.queues[self.board.tenant[j]].push(self._entry(j))

    def enqueue_all(self, jobs: list[int], now: float) -> None:
        b = self.board
        queues, all_jobs, attained, gpus, submit, tenant = (
            self.queues,
            b.jobs,
            b.attained,
            b.gpus,
            b.submit,
            b.tenant,
        )
        threshold, predict = self.threshold, self.estimator.predict
        default = None if self.estimator.learned else self.estimator.default
        heaps: list[list[Entry]] = [q.h if isinstance(q, HeapQueue) else [] for q in queues]
        for j in jobs:
            job = all_jobs[j]
            est = job.estimate
            if est is None:
                est = predict(job) if default is None else default
            level = 0 if attained[j] < threshold else 1
            heaps[tenant[j]].append((level, gpus[j] * est, submit[j], j))
        for h in heaps:
            heapq.heapify(h)

    def ingest(self, pending: Sequence[Item], now: float) -> bool:
        """A snapshot's queue, grouped by tenant into remembered sorted runs (see ``queues``)."""
        b = self.board
        if self.estimator.learned:
            return False
        grouped = group_pending(pending)
        if not b.job_ix.keys().isdisjoint(grouped.ids):
            raise ValueError(f"duplicate job id {next(iter(b.job_ix.keys() & grouped.ids))!r}")
        base = b.reserve(grouped.jobs)  # type: ignore[arg-type]  # empty slots stay unread
        slot = grouped.slot
        filled = bytearray(len(grouped.jobs))
        rejected: list[int] = []
        default = self.estimator.default
        for tid, group in grouped.groups.items():
            if not group:
                continue
            t = b.tenant_index.get(tid)
            if t is None:
                rejected.extend(map(slot, group))
                continue
            pool = b.pools[b.tenant_pool[t]]
            items = tuple(group)
            params = (self.threshold, default, pool.cap, pool.gmax, b.multi_node)
            memo = tenant_run(tid, items, params)
            rejected.extend(slot(items[memo.local(x)]) for x in memo.rejected)
            if memo.run:
                self.queues[t] = RunQueue(memo, self._indexer(items, slot, base, filled))
                self.dirty.add(pool.index)
        for s in sorted(rejected):
            b.fill(base + s, grouped.items[s])  # type: ignore[arg-type]
            self.rejected.append(base + s)
        return True

    def _indexer(
        self,
        items: tuple[Item, ...],
        slot: Callable[[Item], int],
        base: int,
        filled: bytearray,
    ) -> Callable[[int], int]:
        fill = self.board.fill

        def index(local: int) -> int:
            item = items[local]
            s = slot(item)
            if not filled[s]:
                filled[s] = 1
                fill(base + s, item)
            return base + s

        return index

    def _placed(self, j: int, now: float | None = None) -> None:
        """Demote ``j`` if its service is past the threshold (at ``now`` if given: a job of a
        snapshot), else set the timer of the moment it will be."""
        b = self.board
        left = self.threshold - b.attained[j]
        if left > 0:
            at = b.start[j] + left / max(b.gpus[j], 1)
            if now is None or at > now:
                heapq.heappush(self.timers, (at, j, b.start[j]))
                return
        self._demote(j)

    def _lent(self, j: int) -> None:
        self.loans.add(j)
        self.loans_by[self.board.tenant[j]].add(j)

    def _demote(self, j: int) -> None:
        if j not in self.demoted:
            t = self.board.tenant[j]
            self.demoted.add(j)
            self.demoted_by[t].add(j)
            self.demoted_held[t] += self.board.gpus[j]

    def _unplaced(self, j: int) -> None:
        t = self.board.tenant[j]
        self.loans.discard(j)
        self.loans_by[t].discard(j)
        if j in self.demoted:
            self.demoted.discard(j)
            self.demoted_by[t].discard(j)
            self.demoted_held[t] -= self.board.gpus[j]

    def _expire_timers(self, now: float) -> None:
        b = self.board
        timers = self.timers
        while timers and timers[0][0] <= now:
            _, j, began = heapq.heappop(timers)
            if j in self.running and b.start[j] == began:
                self._demote(j)
                self.dirty.add(b.tenant_pool[b.tenant[j]])

    def next_wakeup(self, now: float) -> float:
        b = self.board
        timers = self.timers
        while timers and not (
            timers[0][1] in self.running and b.start[timers[0][1]] == timers[0][2]
        ):
            heapq.heappop(timers)
        if self.capped:  # the last pass stopped at max_starts: go on at once
            return now
        return timers[0][0] if timers and self.can_preempt else float("inf")

    def restore_all(self, running: Sequence[RunningJob], now: float) -> None:
        """As ``restore_running`` for each (indices ``0..R-1``), in bulk."""
        b = self.board
        n = len(running)
        if list(map(_DURATION, map(_JOB, running))).count(None) != n or -1 in b.tenant[:n]:
            super().restore_all(running, now)  # oracle durations or unknown tenants
            return
        starts = list(map(_START, running))
        attained = list(map(_ATTAINED, running))
        b.start[:n] = starts
        b.attained[:n] = attained
        tenant, gpus = b.tenant, b.gpus
        known = range(n)
        self.running.update(known)
        threshold, timers = self.threshold, self.timers
        demoted, demoted_by, dheld = self.demoted, self.demoted_by, self.demoted_held
        # a job is demoted once its service crosses the threshold (as _placed decides)
        crossing = [
            (s + (threshold - a) / (g if g > 1 else 1), j, s)
            for j, a, s, g in zip(known, attained, starts, gpus, strict=False)
            if a < threshold
        ]
        timers.extend(c for c in crossing if c[0] > now)
        late = {c[1] for c in crossing if c[0] <= now}
        down = [j for j, a in zip(known, attained, strict=False) if a >= threshold or j in late]
        demoted.update(down)
        for j in down:
            t = tenant[j]
            demoted_by[t].add(j)
            dheld[t] += gpus[j]
        heapq.heapify(timers)
        over = {t for t, h in enumerate(b.held) if h > b.quota[t]}
        if over:
            for j in known:
                if tenant[j] in over:
                    self._lent(j)

    def on_restore(self, j: int, now: float) -> None:
        b = self.board
        t = b.tenant[j]
        self._placed(j, now)
        if b.held[t] > b.quota[t]:
            self._lent(j)

    def finish(self, j: int, now: float) -> None:
        self._unplaced(j)
        super().finish(j, now)

    def on_finish(self, j: int, now: float) -> None:
        b = self.board
        run = b.attained[j] / max(b.gpus[j], 1) + now - b.start[j]
        self.estimator.observe(b.jobs[j], run)

    def _launch(self, pool: Pool, j: int, now: float, started: list[int]) -> bool:
        if not self.start(pool, j, now):
            return False
        self._placed(j)
        t = self.board.tenant[j]
        if self.board.held[t] > self.board.quota[t]:
            self._lent(j)
        started.append(j)
        self.fresh.add(j)
        return True

    # the pass -------------------------------------------------------------

    def schedule(self, now: float) -> tuple[list[int], list[int]]:
        started: list[int] = []
        preempted: list[int] = []
        self.fresh = set()
        if self.timers and self.can_preempt:
            self._expire_timers(now)
        self.budget = self.max_preempt
        self.capped = False
        done: list[int] = []
        for p in sorted(self.dirty):
            pool = self.board.pools[p]
            self._guarantees(pool, now, started, preempted)
            if not self.capped:
                self._lend(pool, now, started, preempted)
            if self.capped:
                break
            done.append(p)
        self.dirty.difference_update(done)
        return started, preempted

    def _guarantees(self, pool: Pool, now: float, started: list[int], preempted: list[int]) -> None:
        b = self.board
        held, quota, gpus = b.held, b.quota, b.gpus
        order = sorted(pool.tenants, key=lambda t: (held[t] / max(quota[t], 1), t))
        dheld = self.demoted_held
        limit = self.max_starts
        for t in order:
            q = self.queues[t]
            while q:
                if len(started) >= limit:
                    self.capped = True
                    return
                level, _, _, j = q.peek()
                g = gpus[j]
                if held[t] + g > quota[t] and not (
                    self.can_preempt and level == 0 and held[t] - dheld[t] + g <= quota[t]
                ):
                    break
                e = q.pop()
                if self._launch(pool, j, now, started) or (
                    self.can_preempt
                    and self.budget > 0
                    and self._reclaim(pool, j, now, preempted)
                    and self._launch(pool, j, now, started)
                ):
                    continue
                q.push(e)
                break

    def _lend(self, pool: Pool, now: float, started: list[int], preempted: list[int]) -> None:
        b = self.board
        gpus = b.gpus
        cand: list[tuple[Any, ...]] = []
        for t in pool.tenants:
            q = self.queues[t]
            if q:
                cand.append((*self._lend_key(q.peek(), now), t))
        heapq.heapify(cand)
        back: list[tuple[int, Entry]] = []
        scans = 0
        # one failed attempt to preempt ends the attempts of this pass: they are costly
        may_preempt = self.can_preempt
        limit = self.max_starts
        while cand and scans < self.scan_limit:
            if pool.free <= 0 and not (may_preempt and self.budget > 0):
                break
            if len(started) >= limit:
                self.capped = True
                break
            t = heapq.heappop(cand)[-1]
            q = self.queues[t]
            e = q.pop()
            j = e[3]
            scans += 1
            ok = gpus[j] <= pool.free and self._launch(pool, j, now, started)
            if not ok and e[0] == 0 and may_preempt and self.budget > 0:
                ok = self._reclaim(pool, j, now, preempted, lending=True) and self._launch(
                    pool, j, now, started
                )
                may_preempt = ok
            if not ok:
                back.append((t, e))
                if e[0] > 0 and pool.free <= 0:
                    break
                if e[0] == 0 and now - e[2] >= self.starve_after:
                    break  # a job waited long: what frees up is kept for it, not lent on
            if q:
                heapq.heappush(cand, (*self._lend_key(q.peek(), now), t))
        # latest first: each goes back in front of its tenant's run (see queues.RunQueue.push)
        for t, e in reversed(back):
            self.queues[t].push(e)

    @staticmethod
    def _lend_key(e: Entry, now: float) -> tuple[int, float, float, int]:
        return (e[0], e[1] / (1.0 + (now - e[2]) / 3600.0), e[2], e[3])

    # reclaiming -----------------------------------------------------------

    def _candidates(self, pool: Pool, j: int, lending: bool) -> dict[int, list[int]]:
        """Jobs that ``j`` may preempt, by node: loans of other tenants above their quota (only
        demoted ones when ``j`` itself would borrow), and, for a job of level 0, its own
        tenant's demoted jobs."""
        b = self.board
        t = b.tenant[j]
        held, quota = b.held, b.quota
        cands: list[int] = []
        for u in pool.tenants:
            if u != t and held[u] > quota[u] and self.loans_by[u]:
                if lending:
                    cands.extend(v for v in self.loans_by[u] if v in self.demoted)
                else:
                    cands.extend(self.loans_by[u])
        if b.attained[j] < self.threshold:
            cands.extend(self.demoted_by[t])
        by_node: dict[int, list[int]] = {}
        place, fresh = b.place, self.fresh
        for v in cands:
            if v in fresh:  # started in this pass: never stopped in the same pass
                continue
            for n, _, _ in place[v] or ():
                by_node.setdefault(n, []).append(v)
        return by_node

    def _reclaim(
        self, pool: Pool, j: int, now: float, preempted: list[int], lending: bool = False
    ) -> bool:
        """Preempt what ``j`` may preempt so that it fits; False (nothing preempted) if it can't."""
        b = self.board
        g = b.gpus[j]
        by_node = self._candidates(pool, j, lending)
        if not by_node:
            return False
        if g > pool.gmax:
            return self._reclaim_nodes(pool, j, now, preempted, by_node)
        # the node that needs the fewest GPUs freed; on it, loans first, then smaller jobs,
        # then the most recently started
        best = -1
        best_need = 0
        gpus, node_free, node_cap = b.gpus, b.node_free, b.node_cap
        for n, vic in by_node.items():
            need = g - node_free[n]
            if need <= 0 or node_cap[n] < g or (best >= 0 and (need, n) >= (best_need, best)):
                continue
            if sum(gpus[v] for v in vic) >= need:
                best, best_need = n, need
        if best < 0:
            return False
        loans, start = self.loans, b.start
        vic = sorted(set(by_node[best]), key=lambda v: (v not in loans, gpus[v], -start[v], v))
        free = node_free[best]
        for v in vic:
            if free >= g:
                break
            free += gpus[v]
            self._evict(v, now, preempted)
        return True

    def _reclaim_nodes(
        self, pool: Pool, j: int, now: float, preempted: list[int], by_node: dict[int, list[int]]
    ) -> bool:
        """For a job of whole nodes: clear the nodes whose jobs may all be preempted."""
        b = self.board
        whole = b.gpus[j] // pool.gmax
        options: list[tuple[int, int, list[int]]] = []
        for n in sorted(set(by_node) | pool.by_free[pool.gmax]):
            if b.node_cap[n] != pool.gmax:
                continue
            vic = sorted(set(by_node.get(n, ())))
            if b.node_free[n] + sum(b.gpus[v] for v in vic) < b.node_cap[n]:
                continue
            multi = any(len(b.place[v] or ()) > 1 for v in vic)
            options.append((sum(b.gpus[v] for v in vic) + (100 if multi else 0), n, vic))
        if len(options) < whole:
            return False
        options.sort(key=lambda o: (o[0], o[1]))
        for _, _, vic in options[:whole]:
            for v in vic:
                if v in self.running:
                    self._evict(v, now, preempted)
        return True

    def _evict(self, v: int, now: float, preempted: list[int]) -> None:
        self.budget -= 1
        reason = "GPUs reclaimed by their owner" if v in self.loans else "attained service"
        self._unplaced(v)
        self.preempt(v, now, reason)
        self.enqueue(v, now)
        preempted.append(v)

    # reporting ------------------------------------------------------------

    def pending_order(self, now: float) -> list[int]:
        return [e[3] for q in self.queues for e in q.entries()]

    def wait_reasons(self, now: float) -> list[Reason]:
        b = self.board
        out: list[Reason] = self.rejection_reasons()
        gpus = b.gpus
        quota, resources, priority = WaitReason.QUOTA, WaitReason.RESOURCES, WaitReason.PRIORITY
        for t, q in enumerate(self.queues):
            if not q:
                continue
            room = b.quota[t] - b.held[t]  # GPUs left of the tenant's guarantee
            free = b.pools[b.tenant_pool[t]].free
            for k, e in enumerate(q.entries()):
                j = e[3]
                if gpus[j] > room and free < gpus[j]:
                    out.append((j, quota, ""))
                elif k == 0:
                    out.append((j, resources, ""))
                else:
                    out.append((j, priority, ""))
        return out

    def wait_decisions(self, now: float) -> list[Wait]:
        """As ``wait_reasons``; a run that the pass did not push into gives its remembered
        waits after its head (a job waits for quota iff it needs more than both the GPUs left
        of its tenant's guarantee and the free GPUs of its pool)."""
        b = self.board
        out = decisions_of(b.jobs, self.rejection_reasons())
        jobs, gpus = b.jobs, b.gpus
        quota, resources, priority = WaitReason.QUOTA, WaitReason.RESOURCES, WaitReason.PRIORITY
        for t, q in enumerate(self.queues):
            if not q:
                continue
            most = max(b.quota[t] - b.held[t], b.pools[b.tenant_pool[t]].free)
            if isinstance(q, RunQueue) and not q.extra:
                item = q.head_item()
                job = item.job if isinstance(item, PendingJob) else item
                assert job is not None
                out.append(wait_of(job.id, quota if job.gpus > most else resources))
                out.extend(q.rest_waits(max(0, min(most, q.memo.gmax))))
                continue
            for k, e in enumerate(q.entries()):
                j = e[3]
                code = quota if gpus[j] > most else resources if k == 0 else priority
                out.append(wait_of(jobs[j].id, code))
        return out


class Ailab(Policy):
    """The default policy.

    ``threshold``: GPU-seconds of service after which a job drops to the low level (Tiresias'
    18,000; ``inf`` turns demotion off). ``scan_limit``: how many jobs one lending pass looks
    at, at most. ``max_preemptions``: how many jobs one pass may preempt, at most (a live
    cluster that comes back to a long queue is not emptied in one cycle; the next pass goes on).
    ``max_starts``: how many jobs one pass starts, at most: a pass stops there and asks to be
    called again at once (``next_wakeup`` is ``now``; the simulator does, the live loop's next
    pass does), so that a pass over a large idle cluster stays short. ``starve_after``: seconds
    after which a level-0 job that does not fit stops the lending pass of its pool, so that
    smaller jobs do not keep taking the GPUs it waits for (bounds the tail of queueing).
    """

    name = "ailab"

    def __init__(
        self,
        threshold: float = 18_000.0,
        scan_limit: int = 512,
        max_preemptions: int = 32,
        max_starts: int = 256,
        starve_after: float = 7200.0,
    ) -> None:
        self.starve_after = starve_after
        self.threshold = threshold
        self.scan_limit = scan_limit
        self.max_preemptions = max_preemptions
        self.max_starts = max_starts

    def scheduler(self, board: Board, *, preempt: bool) -> Scheduler:
        return _Ailab(board, preempt=preempt, policy=self)
