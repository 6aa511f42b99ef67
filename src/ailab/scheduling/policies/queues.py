"""The per-tenant queues of the ``ailab`` policy, served in order of ``Entry``.

``HeapQueue``: a heap; the simulator's, where jobs arrive one by one.

``RunQueue``: the queue of one ``plan()`` call at any size. The tenant's pending jobs are sorted
once into a :class:`TenantRun`, remembered per tenant between calls: a later snapshot with the
same jobs reuses it, and one where some jobs are gone and new ones come after the others
(the live loop's next pass) patches it (``bisect``) instead of sorting again. A pass consumes
the run from its front (a head index); entries pushed back go back in front when they are the
one just taken, else to a small heap beside the run. Jobs get their board index (and their
board columns) only when the pass first looks at them, so a pass touches the heads of the
queues, not all 100,000 jobs.

The order is exactly the heap's: ``(level, GPUs x estimate, submission, position)``, where the
run's sequence numbers order equal keys as the snapshot's positions do (they are given in the
snapshot's order, new jobs after the others), and entries leave the run with the board index
that the snapshot's position gives.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import compress, islice
from operator import attrgetter, is_, lt, not_

from ailab.scheduling.model import Job, PendingJob, Wait, WaitReason
from ailab.scheduling.waits import table

# (level, GPUs x estimate, submission time, job index)
Entry = tuple[int, float, float, int]
Item = Job | PendingJob
# (threshold, default estimate, pool GPUs, largest node, multi-node allowed)
Params = tuple[float, float, int, int, bool]


class HeapQueue:
    """A heap of entries."""

    __slots__ = ("h",)

    def __init__(self) -> None:
        self.h: list[Entry] = []

    def __bool__(self) -> bool:
        return bool(self.h)

    def peek(self) -> Entry:
        return self.h[0]

    def pop(self) -> Entry:
        return heapq.heappop(self.h)

    def push(self, e: Entry) -> None:
        heapq.heappush(self.h, e)

    def entries(self) -> list[Entry]:
        return sorted(self.h)


def _job(item: Item) -> tuple[Job, float]:
    return (item.job, item.attained) if isinstance(item, PendingJob) else (item, 0.0)


class TenantRun:
    """One tenant's pending jobs of a snapshot, sorted; rejected ones (never fit) apart."""

    __slots__ = (
        "_local",
        "gmax",
        "item_of",
        "items",
        "key_of",
        "params",
        "rejected",
        "run",
        "seq",
        "waits",
    )

    def __init__(self, items: tuple[Item, ...], params: Params) -> None:
        self.params = params
        self.items = items
        self.run: list[Entry] = []
        self.item_of: dict[int, Item] = {}
        self.key_of: dict[int, Entry] = {}
        self.rejected: list[Item] = []
        self.waits: dict[int, list[Wait]] = {}
        self.gmax = 0
        self.seq = 0
        self._local: dict[int, int] | None = None
        for item in items:
            self._add(item)
        self.run.sort()

    def _key(self, item: Item) -> Entry | None:
        threshold, default, cap, gmax, multi = self.params
        job, attained = _job(item)
        g = job.gpus
        if g <= 0 or g > cap or (g > gmax and not multi):
            return None
        est = job.estimate if job.estimate is not None else default
        seq = self.seq
        self.seq += 1
        return (0 if attained < threshold else 1, g * est, job.submit_time, seq)

    def _add(self, item: Item) -> Entry | None:
        key = self._key(item)
        if key is None:
            self.rejected.append(item)
            return None
        self.run.append(key)
        self.item_of[key[3]] = item
        self.key_of[id(item)] = key
        self.gmax = max(self.gmax, _job(item)[0].gpus)
        return key

    def update(self, items: tuple[Item, ...]) -> bool:
        """Patch the run to ``items`` if only some jobs left and new ones came after the rest;
        False (nothing changed) if the snapshot differs otherwise: build a new run then."""
        old = self.items
        alive = set(map(id, items))
        kept = tuple(compress(old, map(alive.__contains__, map(id, old))))
        k = len(kept)
        if len(old) - k + len(items) - k > max(64, len(old) // 2) or not all(
            map(is_, items[:k], kept)
        ):
            return False
        for item in compress(old, map(not_, map(alive.__contains__, map(id, old)))):
            key = self.key_of.pop(id(item), None)
            if key is None:
                self.rejected.remove(item)
                continue
            i = bisect_left(self.run, key)
            del self.run[i]
            del self.item_of[key[3]]
            for lst in self.waits.values():
                del lst[i]
        for item in items[k:]:
            key = self._key(item)
            if key is None:
                self.rejected.append(item)
                continue
            self.item_of[key[3]] = item
            self.key_of[id(item)] = key
            g = _job(item)[0].gpus
            self.gmax = max(self.gmax, g)
            i = bisect_left(self.run, key)
            self.run.insert(i, key)
            for cls, lst in self.waits.items():
                lst.insert(i, self._wait(item, cls))
        self.items = items
        self._local = None
        return True

    def local(self, item: Item) -> int:
        """The position of ``item`` (one of the run's jobs) in ``items``."""
        pos = self._local
        if pos is None:
            pos = self._local = dict(zip(map(id, self.items), range(len(self.items)), strict=True))
        return pos[id(item)]

    @staticmethod
    def _wait(item: Item, cls: int) -> Wait:
        job = _job(item)[0]
        code = WaitReason.QUOTA if job.gpus > cls else WaitReason.PRIORITY
        known = table(code)
        w = known.get(job.id)
        if w is None:
            w = known[job.id] = Wait(job.id, code)
        return w

    def waits_for(self, cls: int) -> list[Wait]:
        """The wait of every job of the run, in order, for a tenant whose jobs of more than
        ``cls`` GPUs wait for quota (the others for priority)."""
        lst = self.waits.get(cls)
        if lst is None:
            item_of, wait = self.item_of, self._wait
            lst = self.waits[cls] = [wait(item_of[key[3]], cls) for key in self.run]
        return lst


_RUNS: dict[str, TenantRun] = {}
_RUNS_MAX = 100_000


def tenant_run(tenant_id: str, items: tuple[Item, ...], params: Params) -> TenantRun:
    """The sorted run of ``items``, remembered (or patched) from the tenant's last one."""
    memo = _RUNS.get(tenant_id)
    if memo is not None and memo.params == params and (memo.items == items or memo.update(items)):
        return memo
    if len(_RUNS) >= _RUNS_MAX:
        _RUNS.clear()
    memo = _RUNS[tenant_id] = TenantRun(items, params)
    return memo


_ID = attrgetter("id")
_TENANT = attrgetter("tenant")


def jobs_of(pending: Sequence[Item]) -> list[Job]:
    """The ``Job`` of each entry of a snapshot's queue."""
    if PendingJob in set(map(type, pending)):
        return [x.job if isinstance(x, PendingJob) else x for x in pending]
    return list(pending)  # type: ignore[arg-type]


class PendingGroups:
    """A snapshot's queue grouped by tenant id (each group in the snapshot's order); patched
    when the next snapshot only lost some jobs and has new ones after the others.

    Each entry has a slot number, ascending in the snapshot's order (new entries get larger
    ones; slots of entries that left stay empty until the queue is built afresh, when there are
    more empty slots than entries): ``jobs``/``items`` by slot are what a board reserves, so a
    job's board index orders like its position in the snapshot without being computed.
    """

    __slots__ = ("groups", "ids", "items", "jobs", "order", "pending", "slot_of")

    def __init__(self, pending: Sequence[Item]) -> None:
        self.pending = tuple(pending)
        n = len(self.pending)
        self.slot_of: dict[int, int] = dict(zip(map(id, self.pending), range(n), strict=True))
        self.items: list[Item | None] = list(self.pending)
        self.order: list[int] = list(range(n))  # the slot of each entry, in order
        jobs = jobs_of(pending)
        self.jobs: list[Job | None] = list(jobs)
        self.ids = set(map(_ID, jobs))
        if len(self.ids) != len(jobs):
            _raise_duplicate(map(_ID, jobs), set())
        groups: dict[str, list[Item]] = {}
        for item, tid in zip(self.pending, map(_TENANT, jobs), strict=True):
            lst = groups.get(tid)
            if lst is None:
                groups[tid] = [item]
            else:
                lst.append(item)
        self.groups = groups

    def same(self, pending: Sequence[Item]) -> bool:
        old = self.pending
        return len(old) == len(pending) and all(map(is_, old, pending))

    def update(self, pending: Sequence[Item]) -> bool:
        """Patch to ``pending`` (see the class); False, nothing changed, if it cannot."""
        old = self.pending
        n = len(pending)
        slots = list(map(self.slot_of.get, map(id, pending)))
        new_count = slots.count(None)
        k = n - new_count  # the entries kept must come first, in their order, then new ones
        if (
            len(old) - k + new_count > max(1024, len(old) // 4)
            or len(self.items) + new_count > 2 * n + 1024
            or (new_count and slots.index(None) != k)
            or (k > 1 and not all(map(lt, slots[: k - 1], islice(slots, 1, k))))  # type: ignore[arg-type]
        ):
            return False
        gone_items = [old[i] for i in _gaps(self.order, slots, k, len(old))]
        gone = jobs_of(gone_items)
        added = jobs_of(pending[k:])
        new_ids = [job.id for job in added]
        gone_ids = {job.id for job in gone}
        if len(set(new_ids)) != len(new_ids) or any(
            i in self.ids and i not in gone_ids for i in new_ids
        ):
            _raise_duplicate(new_ids, self.ids - gone_ids)
        slot_of, items, jobs = self.slot_of, self.items, self.jobs
        for job, item in zip(gone, gone_items, strict=True):
            slot = slot_of.pop(id(item))
            items[slot] = jobs[slot] = None
            group = self.groups[job.tenant]
            del group[list(map(id, group)).index(id(item))]  # by identity, not equality
        for i, (job, item) in enumerate(zip(added, pending[k:], strict=True), start=k):
            self.groups.setdefault(job.tenant, []).append(item)
            slot_of[id(item)] = slots[i] = len(items)
            items.append(item)
            jobs.append(job)
        self.ids.difference_update(gone_ids)
        self.ids.update(new_ids)
        self.pending = tuple(pending)
        self.order = slots  # type: ignore[assignment]  # no None left
        return True

    def slot(self, item: Item) -> int:
        """The slot of ``item`` (an entry of the snapshot, by identity)."""
        return self.slot_of[id(item)]


def _gaps(order: list[int], kept: Sequence[int | None], k: int, n: int) -> list[int]:
    """The positions in ``order`` (ascending slots of ``n`` entries) of the slots missing from
    ``kept[:k]`` (an ascending subsequence of it), found by bisection: O(gaps x log n)."""
    out: list[int] = []

    def offset(i: int) -> int:  # entries of order before kept[i] that are not kept
        slot = kept[i]
        assert slot is not None
        return bisect_left(order, slot) - i

    def walk(lo: int, hi: int, o_lo: int, o_hi: int) -> None:
        # kept[lo] and kept[hi] have o_lo and o_hi gaps before them; find those between
        if o_lo == o_hi:
            return
        if hi - lo == 1:
            out.extend(range(lo + o_lo + 1, hi + o_hi))
            return
        mid = (lo + hi) // 2
        o_mid = offset(mid)
        walk(lo, mid, o_lo, o_mid)
        walk(mid, hi, o_mid, o_hi)

    if k == 0:
        return list(range(n))
    first, last = offset(0), offset(k - 1)
    out.extend(range(first))
    walk(0, k - 1, first, last)
    out.extend(range(k - 1 + last + 1, n))
    return out


def _raise_duplicate(ids: Iterable[str], seen: set[str]) -> None:
    seen = set(seen)
    for jid in ids:
        if jid in seen:
            raise ValueError(f"duplicate job id {jid!r}")
        seen.add(jid)


_GROUPS: list[PendingGroups] = []


def group_pending(pending: Sequence[Item]) -> PendingGroups:
    """The queue grouped by tenant, remembered from the last call (see ``PendingGroups``)."""
    if _GROUPS:
        memo = _GROUPS[0]
        if memo.same(pending) or memo.update(pending):
            return memo
    memo = PendingGroups(pending)
    _GROUPS[:] = [memo]
    return memo


class RunQueue:
    """A tenant's queue in one plan: a shared run consumed from ``head``, plus a heap."""

    __slots__ = ("extra", "head", "index", "memo", "seen")

    def __init__(self, memo: TenantRun, index: Callable[[int], int]) -> None:
        self.memo = memo
        self.head = 0
        self.extra: list[Entry] = []
        self.index = index  # the board index of a position (registering it on first sight)
        self.seen: dict[int, int] = {}  # position in the run -> board index

    def _at(self, i: int) -> Entry:
        key = self.memo.run[i]
        j = self.seen.get(i)
        if j is None:
            memo = self.memo
            j = self.seen[i] = self.index(memo.local(memo.item_of[key[3]]))
        return (key[0], key[1], key[2], j)

    def __bool__(self) -> bool:
        return self.head < len(self.memo.run) or bool(self.extra)

    def peek(self) -> Entry:
        x = self.extra
        if self.head < len(self.memo.run):
            r = self._at(self.head)
            return x[0] if x and x[0] < r else r
        return x[0]

    def pop(self) -> Entry:
        x = self.extra
        if self.head < len(self.memo.run):
            r = self._at(self.head)
            if x and x[0] < r:
                return heapq.heappop(x)
            self.head += 1
            return r
        return heapq.heappop(x)

    def push(self, e: Entry) -> None:
        h = self.head
        if h and self.seen.get(h - 1) == e[3] and self._at(h - 1) == e:
            self.head = h - 1
        else:
            heapq.heappush(self.extra, e)

    def entries(self) -> list[Entry]:
        """Every entry still queued, in order (gives every job its board index)."""
        rest = [self._at(i) for i in range(self.head, len(self.memo.run))]
        return list(heapq.merge(sorted(self.extra), rest))

    def head_item(self) -> Item | None:
        """The job at the head of the run (None if the run is used up)."""
        run = self.memo.run
        return self.memo.item_of[run[self.head][3]] if self.head < len(run) else None

    def rest_waits(self, cls: int) -> Iterator[Wait]:
        """The remembered waits of the run after its head (see :meth:`TenantRun.waits_for`)."""
        return islice(self.memo.waits_for(cls), self.head + 1, None)


def forget() -> None:
    """Drop the remembered runs and groups."""
    _RUNS.clear()
    _GROUPS.clear()
