"""The one entry point of the scheduling core: ``plan(state, policy, now)``.

A live caller (the compute service's scheduler loop) builds a :class:`ClusterState` from its
database rows, calls :func:`plan`, and applies the decisions it gets back: every
:class:`Preempt` first, then every :class:`Start`; :class:`Wait` decisions carry the reason
each pending job that is not started stays pending (one per such job). The simulator drives the
very same policy code, only through a board it keeps between events instead of a fresh one.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from ailab.scheduling import layout, waits
from ailab.scheduling.board import Board
from ailab.scheduling.layout import board_for
from ailab.scheduling.model import (
    Capability,
    ClusterState,
    Decision,
    PendingJob,
    Preempt,
    Start,
    Wait,
    WaitReason,
)
from ailab.scheduling.policies import Policy, Scheduler, get_policy, queues


def plan(state: ClusterState, policy: Policy | str, now: float) -> list[Decision]:
    """Decide what to do now; deterministic: equal inputs give equal outputs.

    Returns the decisions in this order: ``Preempt`` (only if the backend has
    ``Capability.PREEMPT``), ``Start`` (in the order the policy chose them), then ``Wait`` for
    every pending job not started, in the policy's order, with a reason (jobs preempted by this
    plan are pending again and wait too). Each ``Wait`` carries a :class:`WaitReason` code and a
    free detail. A job that can never fit its pool waits with ``WaitReason.NEVER_FITS``: the
    caller should reject it. Without ``Capability.MULTI_NODE`` a job larger than its pool's
    largest node is never placed: it waits with ``WaitReason.NEEDS_MULTI_NODE``.

    ``policy`` is a :class:`Policy` or a name from :data:`ailab.scheduling.policies.POLICIES`.
    """
    with _cyclic_gc_paused():
        return _plan(state, policy, now)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Hold off the cyclic garbage collector for one plan.

    A plan over a large cluster allocates tens of thousands of small objects (board entries,
    placements, decisions); each burst of allocations triggers collections that walk every
    object of the snapshot, which made up about half of the p99 latency. Everything a plan
    builds is acyclic (tuples, dicts, frozen dataclasses), so reference counting frees it all
    and pausing the cyclic collector for the call changes nothing but the time. The caller's
    setting is restored, never turned on if it was off.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _plan(state: ClusterState, policy: Policy | str, now: float) -> list[Decision]:
    pol = get_policy(policy) if isinstance(policy, str) else policy
    board = board_for(state)
    board.multi_node = Capability.MULTI_NODE in state.capabilities
    sched = pol.scheduler(board, preempt=Capability.PREEMPT in state.capabilities)
    sched.restore_all(state.running, now)
    if sched.ingest(state.pending, now):
        started, preempted = sched.schedule(now)
        return _decisions(board, sched, started, preempted, now)
    board.add_jobs(p.job if isinstance(p, PendingJob) else p for p in state.pending)
    ix = board.job_ix
    queue: list[int] = []
    for item in state.pending:
        if isinstance(item, PendingJob):
            jid = ix[item.job.id]
            board.attained[jid] = item.attained
            if item.job.duration is not None and item.job.gpus > 0:
                board.work[jid] = max(item.job.duration - item.attained / item.job.gpus, 0.0)
        else:
            jid = ix[item.id]
        queue.append(jid)
    sched.submit_all(queue, now)
    started, preempted = sched.schedule(now)
    return _decisions(board, sched, started, preempted, now)


def _decisions(
    board: Board, sched: Scheduler, started: list[int], preempted: list[int], now: float
) -> list[Decision]:
    out: list[Decision] = [Preempt(board.jobs[j].id, sched.preempt_reason(j)) for j in preempted]
    out.extend(Start(board.jobs[j].id, board.placement_of(j)) for j in started)
    out.extend(sched.wait_decisions(now))
    return out


def forget() -> None:
    """Drop what plans remember between calls (the last snapshot's board and queues, shared
    waits); the next plan builds from nothing. Plans give the same decisions either way."""
    layout.forget()
    queues.forget()
    waits.forget()


def pending_reasons(decisions: list[Decision]) -> dict[str, str]:
    """The ``Wait`` decisions of a plan as ``{job_id: reason}`` (the short legacy phrase)."""
    return {d.job_id: d.reason for d in decisions if isinstance(d, Wait)}


def pending_codes(decisions: list[Decision]) -> dict[str, WaitReason]:
    """The ``Wait`` decisions of a plan as ``{job_id: code}``."""
    return {d.job_id: d.code for d in decisions if isinstance(d, Wait)}


__all__ = ["forget", "pending_codes", "pending_reasons", "plan"]
