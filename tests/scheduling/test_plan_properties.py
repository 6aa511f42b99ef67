"""Hypothesis properties of ``plan()`` on random snapshots, for every policy.

Starts use only GPUs that are free or freed by this plan's preemptions, no GPU twice, exactly the
job's GPUs, and only in the job's pool; preemptions name running jobs and appear only with the
PREEMPT capability; every pending job is either started or waits with a reason, never both, and
a preempted job waits too (with the reason it will show while pending).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ailab.scheduling import (
    Capability,
    ClusterState,
    Job,
    Mode,
    Node,
    Placement,
    Preempt,
    RunningJob,
    Slot,
    Start,
    Tenant,
    Wait,
    plan,
)
from ailab.scheduling.policies import POLICIES

TENANTS = ("a", "b")


@st.composite
def states(draw: st.DrawFn) -> ClusterState:
    nodes = tuple(
        Node(f"n{i}", draw(st.sampled_from([2, 4, 8])), draw(st.sampled_from(TENANTS)))
        for i in range(draw(st.integers(1, 4)))
    )
    tenants = tuple(Tenant(t, sum(n.gpus for n in nodes if n.tenant == t)) for t in TENANTS)
    running: list[RunningJob] = []
    k = 0
    for n in nodes:
        used = 0
        while used < n.gpus and draw(st.booleans()):
            g = draw(st.integers(1, n.gpus - used))
            job = Job(f"r{k}", n.tenant or "a", g, 0.0, duration=float(draw(st.integers(1, 99))))
            slot = Slot(n.id, tuple(range(used, used + g)))
            running.append(RunningJob(job, Placement((slot,)), float(draw(st.integers(0, 50)))))
            used += g
            k += 1
    pending = tuple(
        Job(f"p{i}", draw(st.sampled_from(TENANTS)), draw(st.sampled_from([1, 2, 3, 4, 8, 16])),
            float(draw(st.integers(0, 60))), duration=float(draw(st.integers(1, 99))))
        for i in range(draw(st.integers(0, 12)))
    )  # fmt: skip
    caps = draw(st.sampled_from([frozenset(Capability), frozenset({Capability.GPU_PINNING})]))
    mode = draw(st.sampled_from(list(Mode)))
    return ClusterState(nodes, tenants, tuple(running), pending, mode=mode, capabilities=caps)


@pytest.mark.parametrize("policy", sorted(POLICIES))
@settings(max_examples=60, deadline=None)
@given(state=states())
def test_plan_decisions_are_safe(policy: str, state: ClusterState) -> None:
    """Every Start fits free (or just freed) GPUs of its pool; nothing is double-booked."""
    decisions = plan(state, policy, 100_000.0)
    running = {rj.job.id: rj for rj in state.running}
    pending = {j.id: j for j in state.pending if isinstance(j, Job)}
    owner = {n.id: n.tenant for n in state.nodes}
    caps = {n.id: n.gpus for n in state.nodes}
    preempted = [d.job_id for d in decisions if isinstance(d, Preempt)]
    assert set(preempted) <= set(running)
    if Capability.PREEMPT not in state.capabilities:
        assert preempted == []
    held = {
        (s.node_id, g)
        for jid, rj in running.items()
        if jid not in preempted
        for s in rj.placement.slots
        for g in s.gpu_indices
    }
    started = [d for d in decisions if isinstance(d, Start)]
    for d in started:
        # a preempted job may start again at once elsewhere (it moves to make room)
        job = pending[d.job_id] if d.job_id in pending else running[d.job_id].job
        assert d.job_id in pending or d.job_id in preempted
        assert d.placement.gpus == job.gpus
        for s in d.placement.slots:
            if state.mode is Mode.PARTITIONED:
                assert owner[s.node_id] == job.tenant
            for g in s.gpu_indices:
                assert 0 <= g < caps[s.node_id]
                assert (s.node_id, g) not in held, "GPU handed out twice"
                held.add((s.node_id, g))
    waiting = [d.job_id for d in decisions if isinstance(d, Wait)]
    starting = [d.job_id for d in started]
    assert len(set(waiting)) == len(waiting)
    assert not set(waiting) & set(starting)
    assert set(waiting) | set(starting) == set(pending) | set(preempted)
