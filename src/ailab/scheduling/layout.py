"""The board of a ``plan()`` call, built with what the previous call's snapshot left.

Between two passes of a live loop most of the cluster is unchanged: the same nodes, and the same
running jobs but for those that ended or started. Building the board afresh walks every running
job's placement (20,000 and more at city scale); here the nodes' free GPUs after the running jobs
of the last snapshot are remembered, and a new snapshot with the same nodes and tenants only
frees the GPUs of running jobs that are gone and takes those of jobs that are new (matched by
identity of the ``RunningJob`` entries). What the board holds does not depend on the order of the
running jobs, only their set, so the result is the board that :meth:`Board.from_state` builds;
any snapshot that differs more is built afresh. Pending jobs are not registered here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import attrgetter, is_

from ailab.scheduling.board import Board, RawSlot
from ailab.scheduling.model import ClusterState, Mode, Node, RunningJob, Tenant

_JOB = attrgetter("job")
_START = attrgetter("start_time")
_ATTAINED = attrgetter("attained")


@dataclass(slots=True)
class _Memo:
    nodes: tuple[Node, ...]
    tenants: tuple[Tenant, ...]
    mode: Mode
    node_ix: dict[str, int]
    empty: Board  # the nodes with no job
    running: tuple[RunningJob, ...] = ()
    held: Board | None = None  # the nodes with ``running`` placed
    slots: dict[int, tuple[RawSlot, ...]] = field(default_factory=dict)  # id(entry) -> slots


_LAST: list[_Memo] = []


def board_for(state: ClusterState) -> Board:
    """A board with the snapshot's nodes, tenants and running jobs (indices ``0..R-1`` in the
    snapshot's order), as ``Board.from_state(state, pending=False)`` gives."""
    memo = _memo_for(state)
    running = state.running
    board = _occupied(memo, running)
    board.add_jobs(map(_JOB, running))
    slots = memo.slots
    board.place[: len(running)] = map(slots.__getitem__, map(id, running))
    for t, tid in enumerate(board.tenant_ids):
        board.usage[t] = float(state.usage.get(tid, 0.0))
    return board


def _memo_for(state: ClusterState) -> _Memo:
    if _LAST:
        memo = _LAST[0]
        same_nodes = memo.nodes is state.nodes or memo.nodes == state.nodes
        if same_nodes and memo.mode is state.mode and memo.tenants == state.tenants:
            return memo
    empty = Board(state.nodes, state.tenants, state.mode)
    memo = _Memo(
        tuple(state.nodes),
        tuple(state.tenants),
        state.mode,
        {nid: i for i, nid in enumerate(empty.node_ids)},
        empty,
    )
    _LAST[:] = [memo]
    return memo


def _occupied(memo: _Memo, running: tuple[RunningJob, ...]) -> Board:
    """A fresh board with the GPUs of ``running`` held; remembers it for the next call."""
    tenant_index = memo.empty.tenant_index
    known = memo.slots
    old = memo.running
    base = memo.held
    found = list(map(known.get, map(id, running)))
    new = found.count(None)
    gone = len(old) - (len(running) - new)
    if base is None or gone + new > max(256, len(running) // 2):
        board = memo.empty.clone_nodes()
        slots: dict[int, tuple[RawSlot, ...]] = {}
        for rj in running:
            raw = slots[id(rj)] = board.raw_slots(rj.placement, memo.node_ix)
            board.take_exact(tenant_index.get(rj.job.tenant, -1), raw)
    else:
        board = base.clone_nodes()
        slots = dict(known)
        if gone:
            left = known.keys() - set(map(id, running))
            for rj in old:
                if id(rj) in left:
                    board.give_back(tenant_index.get(rj.job.tenant, -1), slots.pop(id(rj)))
        for rj in compress(running, map(is_, found, repeat(None))):
            raw = slots[id(rj)] = board.raw_slots(rj.placement, memo.node_ix)
            board.take_exact(tenant_index.get(rj.job.tenant, -1), raw)
    memo.running, memo.held, memo.slots = tuple(running), board.clone_nodes(compact=True), slots
    return board


def forget() -> None:
    """Drop the remembered board."""
    _LAST.clear()
