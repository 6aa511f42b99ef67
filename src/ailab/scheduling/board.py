"""The board: a mutable, indexed working copy of a cluster that policies schedule on.

:func:`ailab.scheduling.planner.plan` builds a fresh board from a :class:`ClusterState` for
each call; the simulator keeps one board for a whole run and updates it at every event. Both
then run the same policy code on it. Internally nodes, tenants and jobs are small integers and
their attributes live in parallel lists: this is the hot path of the simulator.

Pools: in partitioned mode there is one pool per tenant (the nodes it owns); in shared mode one
pool holds every node. A job is placed only in its tenant's pool.

Placement is consolidating: a job of at most a node's GPUs goes on one node, the one with the
fewest free GPUs that still fit it (best fit; ties: the lowest node index, i.e. the order of
``ClusterState.nodes``). A larger job takes whole free nodes (lowest index first) and puts
what is left over, if anything, on the best-fitting other node. GPUs on a node are taken
lowest index first. A node never gives more GPUs than it has.
"""

from __future__ import annotations

import functools
import heapq
from collections.abc import Iterable, Sequence
from itertools import repeat
from operator import attrgetter

from ailab.scheduling.model import (
    ClusterState,
    Job,
    Mode,
    Node,
    PendingJob,
    Placement,
    Slot,
    Tenant,
)

# (node index, bitmask of its GPUs, number of GPUs)
RawSlot = tuple[int, int, int]

# pools of at least this many nodes keep a heap of node indices per free count, so that best
# fit finds the lowest-index node of a count without scanning its set (10,000-node pools)
HEAP_NODES = 256


def checkpoint_cost(gpus: int) -> float:
    """Seconds a preempted job loses to checkpoint and restore (Lucid/Helios: 7, 30, 60 s)."""
    if gpus <= 1:
        return 7.0
    if gpus <= 8:
        return 30.0
    return 60.0


class Pool:
    """A set of nodes that jobs are placed within; free GPUs indexed by free count."""

    __slots__ = (
        "by_free",
        "cap",
        "free",
        "gmax",
        "heaps",
        "index",
        "nodes",
        "tenants",
        "uniform",
    )

    def __init__(self, index: int, nodes: list[int], caps: Sequence[int]) -> None:
        self.index = index
        self.nodes = nodes
        self.gmax = max((caps[n] for n in nodes), default=0)
        self.cap = sum(caps[n] for n in nodes)
        self.uniform = all(caps[n] == self.gmax for n in nodes)
        self.free = self.cap
        self.by_free: list[set[int]] = [set() for _ in range(self.gmax + 1)]
        for n in nodes:
            self.by_free[caps[n]].add(n)
        self.tenants: list[int] = []
        # heaps[k]: node indices that had k free GPUs when pushed; an entry is current only
        # while the node still has k free (stale ones are dropped when they reach the top)
        self.heaps: list[list[int]] | None = None
        if len(nodes) >= HEAP_NODES:
            self.heaps = [sorted(s) for s in self.by_free]

    def clone(self, compact: bool = False) -> Pool:
        """A copy whose free GPUs change apart from this one's (``compact``: without stale
        heap entries)."""
        p = Pool.__new__(Pool)
        p.index, p.nodes, p.gmax, p.cap, p.uniform, p.free, p.tenants = (
            self.index,
            self.nodes,
            self.gmax,
            self.cap,
            self.uniform,
            self.free,
            self.tenants,
        )
        p.by_free = [set(s) for s in self.by_free]
        if self.heaps is None:
            p.heaps = None
        elif compact:
            p.heaps = [sorted(s) for s in self.by_free]
        else:
            p.heaps = [list(h) for h in self.heaps]
        return p

    def lowest(self, k: int, node_free: list[int]) -> int:
        """The lowest-index node of the pool with exactly ``k`` free GPUs (one must exist)."""
        s = self.by_free[k]
        heaps = self.heaps
        if heaps is None:
            return min(s) if len(s) > 1 else next(iter(s))
        h = heaps[k]
        while node_free[h[0]] != k:
            heapq.heappop(h)
        if len(h) > 4 * len(s) + 64:  # mostly stale: rebuild
            h[:] = sorted(s)
        return h[0]

    def pop_lowest(self, k: int, m: int, node_free: list[int]) -> list[int]:
        """The ``m`` lowest-index nodes with exactly ``k`` free GPUs (at least ``m`` exist),
        ascending; the caller takes GPUs of each, so they leave the heap of ``k``."""
        heaps = self.heaps
        if heaps is None:
            return sorted(self.by_free[k])[:m]
        h = heaps[k]
        out: list[int] = []
        while len(out) < m:
            n = heapq.heappop(h)
            if node_free[n] == k and (not out or out[-1] != n):
                out.append(n)
        return out

    def largest_free(self) -> int:
        """The most free GPUs on any one node of the pool."""
        bf = self.by_free
        for k in range(self.gmax, 0, -1):
            if bf[k]:
                return k
        return 0


class Board:
    """Indexed nodes, tenants, pools and jobs, with the free GPUs of every node."""

    def __init__(self, nodes: Sequence[Node], tenants: Sequence[Tenant], mode: Mode) -> None:
        self.mode = mode
        # may one job span several nodes (``Capability.MULTI_NODE``)? set by the caller
        self.multi_node = True
        self.node_ids = [n.id for n in nodes]
        self.node_cap = [n.gpus for n in nodes]
        self.node_free = list(self.node_cap)
        self.node_mask = [(1 << n.gpus) - 1 for n in nodes]
        self.tenant_ids = [t.id for t in tenants]
        self.tenant_index = {t.id: i for i, t in enumerate(tenants)}
        self.quota = [t.quota_gpus for t in tenants]
        self.weight = [t.weight for t in tenants]
        self.usage = [0.0] * len(tenants)
        self.held = [0] * len(tenants)
        self.pools: list[Pool] = []
        self.tenant_pool: list[int] = []
        self.node_pool = [-1] * len(nodes)
        self._build_pools(nodes)
        self.jobs: list[Job] = []
        self.job_ix: dict[str, int] = {}
        self.gpus: list[int] = []
        self.tenant: list[int] = []
        self.submit: list[float] = []
        self.attained: list[float] = []
        self.work: list[float] = []
        self.start: list[float] = []
        self.place: list[tuple[RawSlot, ...] | None] = []

    def _build_pools(self, nodes: Sequence[Node]) -> None:
        if self.mode is Mode.SHARED:
            pool = Pool(0, list(range(len(nodes))), self.node_cap)
            pool.tenants = list(range(len(self.tenant_ids)))
            self.pools = [pool]
            self.tenant_pool = [0] * len(self.tenant_ids)
            self.node_pool = [0] * len(nodes)
            return
        owned: dict[int, list[int]] = {t: [] for t in range(len(self.tenant_ids))}
        for i, n in enumerate(nodes):
            t = self.tenant_index.get(n.tenant) if n.tenant is not None else None
            if t is not None:
                owned[t].append(i)
        for t, members in owned.items():
            pool = Pool(t, members, self.node_cap)
            pool.tenants = [t]
            self.pools.append(pool)
            for m in members:
                self.node_pool[m] = t
        self.tenant_pool = list(range(len(self.tenant_ids)))

    # jobs -----------------------------------------------------------------

    def add_jobs(self, jobs: Iterable[Job]) -> None:
        """Register jobs (pending or running): gives each its integer index."""
        new = list(jobs)
        base = len(self.jobs)
        ix = self.job_ix
        ix.update(zip(map(_ID, new), range(base, base + len(new)), strict=True))
        if len(ix) != base + len(new):
            seen: set[str] = set(self.jobs[k].id for k in range(base))
            for job in new:
                if job.id in seen:
                    raise ValueError(f"duplicate job id {job.id!r}")
                seen.add(job.id)
        ti = self.tenant_index
        n = len(new)
        self.jobs.extend(new)
        self.gpus.extend(map(_GPUS, new))
        self.tenant.extend(map(ti.get, map(_TENANT, new), repeat(-1, n)))
        self.submit.extend(map(_SUBMIT, new))
        self.attained.extend(repeat(0.0, n))
        durations = list(map(_DURATION, new))
        if durations.count(None) == n:
            self.work.extend(repeat(0.0, n))
        else:
            self.work.extend([0.0 if d is None else d for d in durations])
        self.start.extend(repeat(-1.0, n))
        self.place.extend(repeat(None, n))

    def reserve(self, jobs: Sequence[Job]) -> int:
        """Indices for ``jobs`` whose columns :meth:`fill` writes later, when a policy first
        looks at them (a plan over a long queue looks at few); returns the first index."""
        base = len(self.jobs)
        n = len(jobs)
        self.jobs.extend(jobs)
        self.gpus.extend(repeat(0, n))
        self.tenant.extend(repeat(-1, n))
        self.submit.extend(repeat(0.0, n))
        self.attained.extend(repeat(0.0, n))
        self.work.extend(repeat(0.0, n))
        self.start.extend(repeat(-1.0, n))
        self.place.extend(repeat(None, n))
        return base

    def fill(self, j: int, item: Job | PendingJob) -> None:
        """The columns of reserved job ``j`` (``item`` is its entry of the snapshot)."""
        job = self.jobs[j]
        g = job.gpus
        self.gpus[j] = g
        self.tenant[j] = self.tenant_index.get(job.tenant, -1)
        self.submit[j] = job.submit_time
        duration = job.duration
        if isinstance(item, PendingJob):
            self.attained[j] = item.attained
            if duration is not None and g > 0:
                self.work[j] = max(duration - item.attained / g, 0.0)
            elif duration is not None:
                self.work[j] = duration
        elif duration is not None:
            self.work[j] = duration

    def job_index(self, job_id: str) -> int:
        return self.job_ix[job_id]

    def pool_of(self, j: int) -> Pool | None:
        t = self.tenant[j]
        return self.pools[self.tenant_pool[t]] if t >= 0 else None

    def never_fits(self, j: int) -> bool:
        """True if the job is larger than its pool (or its tenant is unknown)."""
        pool = self.pool_of(j)
        return pool is None or self.gpus[j] > pool.cap or self.gpus[j] <= 0

    # placement ------------------------------------------------------------

    def alloc(self, pool: Pool, j: int) -> bool:
        """Place job ``j`` in ``pool`` if it fits now; returns whether it did."""
        g = self.gpus[j]
        if g > pool.free:
            return False
        if g <= pool.gmax:
            bf = pool.by_free
            for k in range(g, pool.gmax + 1):
                if bf[k]:
                    n = pool.lowest(k, self.node_free)
                    self.place[j] = (self._take(pool, n, g),)
                    break
            else:
                return False
        else:
            slots = self._alloc_multi(pool, g)
            if slots is None:
                return False
            self.place[j] = slots
        pool.free -= g
        self.held[self.tenant[j]] += g
        return True

    def _take(self, pool: Pool, n: int, g: int) -> RawSlot:
        k = self.node_free[n]
        pool.by_free[k].discard(n)
        pool.by_free[k - g].add(n)
        self.node_free[n] = k - g
        if pool.heaps is not None and k > g:  # nothing ever looks for nodes with 0 free
            heapq.heappush(pool.heaps[k - g], n)
        m = self.node_mask[n]
        taken = 0
        for _ in range(g):
            b = m & -m
            m ^= b
            taken |= b
        self.node_mask[n] = m
        return (n, taken, g)

    def _alloc_multi(self, pool: Pool, g: int) -> tuple[RawSlot, ...] | None:
        cap = self.node_cap
        if pool.uniform:
            m = g // pool.gmax
            if len(pool.by_free[pool.gmax]) < m:
                return None
            rest_need = g - m * pool.gmax
            if rest_need and not any(
                len(pool.by_free[k]) > (m if k == pool.gmax else 0)
                for k in range(rest_need, pool.gmax + 1)
            ):
                return None
            whole = pool.pop_lowest(pool.gmax, m, self.node_free)
        else:
            whole = sorted(
                (n for k in range(1, pool.gmax + 1) for n in pool.by_free[k] if cap[n] == k),
                key=lambda n: (-cap[n], n),
            )
        chosen: list[int] = []
        need = g
        for n in whole:
            if need == 0:
                break
            if cap[n] <= need:
                chosen.append(n)
                need -= cap[n]
        rest = -1
        if need > 0:
            taken = set(chosen)
            for k in range(need, pool.gmax + 1):
                fits = pool.by_free[k] - taken
                if fits:
                    rest = min(fits)
                    break
            else:
                return None
        slots = [self._take(pool, n, cap[n]) for n in chosen]
        if rest >= 0:
            slots.append(self._take(pool, rest, need))
        return tuple(slots)

    def alloc_exact(self, j: int, slots: tuple[RawSlot, ...]) -> None:
        """Mark the given GPUs as held by ``j`` (a running job from a snapshot).

        The GPUs count against the pool their node is in, whatever the job's tenant: a job that
        runs outside its tenant's partition, or of an unknown tenant, still holds them.
        """
        for n, bits, _ in slots:
            if self.node_mask[n] & bits != bits:
                raise ValueError(f"GPU of node {self.node_ids[n]!r} held twice")
        self.place[j] = slots
        self._move(j, slots, -1)

    def take_exact(self, t: int, slots: tuple[RawSlot, ...]) -> None:
        """As ``alloc_exact`` for a job of tenant ``t`` that has no index on this board."""
        for n, bits, _ in slots:
            if self.node_mask[n] & bits != bits:
                raise ValueError(f"GPU of node {self.node_ids[n]!r} held twice")
        self._move_t(t, slots, -1)

    def give_back(self, t: int, slots: tuple[RawSlot, ...]) -> None:
        """Free ``slots`` held by a job of tenant ``t`` that has no index on this board."""
        self._move_t(t, slots, 1)

    def release(self, j: int) -> None:
        """Give back the GPUs of ``j``."""
        slots = self.place[j]
        if slots is None:
            return
        self._move(j, slots, 1)
        self.place[j] = None

    def _move(self, j: int, slots: tuple[RawSlot, ...], sign: int) -> None:
        """Free (sign 1) or take (sign -1) the GPUs of ``slots`` for job ``j``."""
        self._move_t(self.tenant[j], slots, sign)

    def _move_t(self, t: int, slots: tuple[RawSlot, ...], sign: int) -> None:
        """Free (sign 1) or take (sign -1) the GPUs of ``slots`` for tenant ``t``."""
        pools, node_pool, node_free, node_mask = (
            self.pools,
            self.node_pool,
            self.node_free,
            self.node_mask,
        )
        total = 0
        for n, bits, g in slots:
            k = node_free[n]
            p = node_pool[n]
            if p >= 0:
                pool = pools[p]
                pool.by_free[k].discard(n)
                pool.by_free[k + sign * g].add(n)
                pool.free += sign * g
                if pool.heaps is not None and k + sign * g > 0:
                    heapq.heappush(pool.heaps[k + sign * g], n)
            node_free[n] = k + sign * g
            if sign > 0:
                node_mask[n] |= bits
            else:
                node_mask[n] &= ~bits
            total += g
        if t >= 0:
            self.held[t] -= sign * total

    def placement_of(self, j: int) -> Placement:
        slots = self.place[j] or ()
        return Placement(tuple(Slot(self.node_ids[n], _indices(bits)) for n, bits, _ in slots))

    # snapshots ------------------------------------------------------------

    def clone_nodes(self, compact: bool = False) -> Board:
        """A board with the same nodes, tenants and free GPUs, and no jobs (for ``layout``)."""
        b = Board.__new__(Board)
        b.mode, b.multi_node = self.mode, self.multi_node
        b.node_ids, b.node_cap, b.tenant_ids, b.tenant_index = (
            self.node_ids,
            self.node_cap,
            self.tenant_ids,
            self.tenant_index,
        )
        b.quota, b.weight, b.tenant_pool, b.node_pool = (
            self.quota,
            self.weight,
            self.tenant_pool,
            self.node_pool,
        )
        b.node_free, b.node_mask = list(self.node_free), list(self.node_mask)
        b.usage, b.held = [0.0] * len(self.tenant_ids), list(self.held)
        b.pools = [p.clone(compact) for p in self.pools]
        b.jobs, b.job_ix, b.gpus, b.tenant, b.submit = [], {}, [], [], []
        b.attained, b.work, b.start, b.place = [], [], [], []
        return b

    def raw_slots(self, placement: Placement, node_ix: dict[str, int]) -> tuple[RawSlot, ...]:
        """A placement as (node index, GPU bitmask, GPUs) slots; ValueError if an index is bad."""
        cap = self.node_cap
        slots: list[RawSlot] = []
        for sl in placement.slots:
            n = node_ix[sl.node_id]
            try:
                bits = _bits(sl.gpu_indices)
            except ValueError as err:
                raise ValueError(f"{err} on node {sl.node_id!r}") from None
            if bits >> cap[n]:
                bad = bits.bit_length() - 1
                raise ValueError(f"bad GPU index {bad} on node {sl.node_id!r}")
            slots.append((n, bits, len(sl.gpu_indices)))
        return tuple(slots)

    @classmethod
    def from_state(cls, state: ClusterState, *, pending: bool = True) -> Board:
        """A board for one ``plan()`` call: nodes, tenants, running and (unless ``pending`` is
        False: the caller registers them) pending jobs."""
        board = cls(state.nodes, state.tenants, state.mode)
        for t, tid in enumerate(board.tenant_ids):
            board.usage[t] = float(state.usage.get(tid, 0.0))
        node_ix = {nid: i for i, nid in enumerate(board.node_ids)}
        board.add_jobs(rj.job for rj in state.running)
        if pending:
            board.add_jobs(p.job if isinstance(p, PendingJob) else p for p in state.pending)
        ix = board.job_ix
        for rj in state.running:
            board.alloc_exact(ix[rj.job.id], board.raw_slots(rj.placement, node_ix))
        return board


_ID = attrgetter("id")
_GPUS = attrgetter("gpus")
_TENANT = attrgetter("tenant")
_SUBMIT = attrgetter("submit_time")
_DURATION = attrgetter("duration")


@functools.lru_cache(maxsize=4096)
def _bits(indices: tuple[int, ...]) -> int:
    """The bitmask of distinct GPU indices; ValueError naming the first bad or repeated one."""
    bits = 0
    for i in indices:
        if i < 0 or bits >> i & 1:
            raise ValueError(f"bad GPU index {i}")
        bits |= 1 << i
    return bits


@functools.lru_cache(maxsize=4096)
def _indices(bits: int) -> tuple[int, ...]:
    """The GPU indices set in a node's bitmask (cached: nodes have few distinct masks)."""
    return tuple(i for i in range(bits.bit_length()) if bits >> i & 1)
