"""``plan()`` remembers work between calls (board, sorted queues, waits); the decisions must be
exactly those of a plan that starts from nothing, whatever came before."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from ailab.scheduling import (
    Capability,
    ClusterState,
    Decision,
    Job,
    Mode,
    Node,
    PendingJob,
    Placement,
    RunningJob,
    Slot,
    Start,
    Tenant,
    plan,
)
from ailab.scheduling.planner import forget

TENANTS = ("a", "b", "c", "d")


def _job(rng: random.Random, k: str, now: float) -> Job:
    return Job(
        f"p{k}",
        rng.choice((*TENANTS, "ghost")),  # a tenant the state does not know, now and then
        rng.choice((1, 1, 2, 4, 8, 16, 64)),  # 64 never fits
        now - rng.choice((0.0, 5.0, rng.uniform(0, 900))),  # equal submission times happen
        user=f"u{rng.randrange(3)}",
        name=rng.choice(("x", "y")),
        estimate=rng.choice((None, 600.0, rng.uniform(60, 9000))),
    )


def _state(rng: random.Random, mode: Mode, caps: frozenset[Capability]) -> ClusterState:
    nodes = tuple(Node(f"n{i}", 8, TENANTS[i % 4]) for i in range(24))
    running = []
    for i, n in enumerate(nodes[:14]):
        g = rng.choice((2, 4, 8))
        job = Job(f"r{i}", TENANTS[rng.randrange(4)], g, 0.0)
        running.append(RunningJob(job, Placement((Slot(n.id, tuple(range(g))),)), 1.0))
    pending = tuple(_job(rng, str(k), 1000.0) for k in range(260))
    tenants = tuple(Tenant(t, 48) for t in TENANTS)
    return ClusterState(nodes, tenants, tuple(running), pending, mode=mode, capabilities=caps)


def _next(
    state: ClusterState, decisions: list[Decision], rng: random.Random, step: int, now: float
) -> ClusterState:
    """The next pass: starts run, some running end, some pending leave or come, and now and
    then the queue is shuffled or an entry becomes a preempted ``PendingJob``."""
    started = {d.job_id: d for d in decisions if isinstance(d, Start)}
    pending = [p for p in state.pending if (p.job if isinstance(p, PendingJob) else p).id]
    moved = [p for p in pending if isinstance(p, Job) and p.id in started]
    pending = [p for p in pending if not (isinstance(p, Job) and p.id in started)]
    running = [rj for rj in state.running if rng.random() > 0.2]
    used = {(s.node_id, g) for rj in running for s in rj.placement.slots for g in s.gpu_indices}
    for job in moved:
        pl = started[job.id].placement
        if not any((s.node_id, g) in used for s in pl.slots for g in s.gpu_indices):
            running.append(RunningJob(job, pl, now))
            used.update((s.node_id, g) for s in pl.slots for g in s.gpu_indices)
    pending = [p for p in pending if rng.random() > 0.05]
    pending.extend(_job(rng, f"{step}.{i}", now) for i in range(rng.randrange(0, 12)))
    if step % 7 == 3:
        rng.shuffle(pending)
    if step % 5 == 2 and pending and isinstance(pending[0], Job):
        pending[0] = PendingJob(pending[0], attained=rng.choice((0.0, 50_000.0)), preemptions=1)
    return replace(state, running=tuple(running), pending=tuple(pending))


@pytest.mark.parametrize("policy", ["ailab", "fifo", "backfill"])
@pytest.mark.parametrize("mode", list(Mode))
def test_remembered_plans_equal_plans_from_nothing(policy: str, mode: Mode) -> None:
    """Over 30 passes of a changing snapshot (starts applied, jobs ending, leaving, arriving,
    the queue reordered, preempted entries, unknown tenants, jobs that never fit), each plan
    equals the plan of the same snapshot after ``forget()``."""
    rng = random.Random(hash((policy, mode.value)) & 0xFFFF)
    for caps in (frozenset(Capability), frozenset(Capability) - {Capability.PREEMPT}):
        forget()
        state = _state(rng, mode, caps)
        now = 1000.0
        states, warm = [], []
        for step in range(30):
            d = plan(state, policy, now)
            states.append((state, now))
            warm.append(d)
            now += 10.0
            state = _next(state, d, rng, step, now)
        for (st, at), got in zip(states, warm, strict=True):
            forget()
            assert plan(st, policy, at) == got


def test_duplicate_ids_are_refused_on_the_remembered_path_too() -> None:
    """A pending id equal to a running one, or repeated, raises ValueError after a warm call."""
    rng = random.Random(5)
    state = _state(rng, Mode.SHARED, frozenset(Capability))
    plan(state, "ailab", 1000.0)
    dup = replace(state, pending=(*state.pending, state.pending[3]))
    with pytest.raises(ValueError, match="duplicate job id"):
        plan(dup, "ailab", 1000.0)
    clash = replace(state, pending=(*state.pending, Job("r0", "a", 1, 0.0)))
    with pytest.raises(ValueError, match="duplicate job id"):
        plan(clash, "ailab", 1000.0)
