"""Hypothesis properties of the simulator under every policy and both modes.

For random small workloads: no GPU is held by two jobs at any instant; every accepted job
finishes exactly once and the rejected ones are exactly those larger than their pool; a job
never runs before its submission; each job runs for its duration plus the checkpoint costs of
its preemptions; equal inputs give equal outputs.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ailab.scheduling.board import checkpoint_cost
from ailab.scheduling.model import Capability, Job, Mode
from ailab.scheduling.policies import POLICIES
from ailab.scheduling.simulator import SimResult, simulate
from ailab.scheduling.traces import Workload

from .helpers import workload

TENANTS = ("a", "b", "c")


@st.composite
def workloads(draw: st.DrawFn) -> Workload:
    nodes = draw(
        st.lists(
            st.tuples(st.sampled_from([1, 2, 4, 8]), st.sampled_from(TENANTS)),
            min_size=1,
            max_size=4,
        )
    )
    n = draw(st.integers(1, 18))
    jobs = [
        Job(
            f"j{k}",
            draw(st.sampled_from(TENANTS)),
            draw(st.sampled_from([1, 1, 2, 3, 4, 8, 9, 16])),
            float(draw(st.integers(0, 60))),
            duration=float(draw(st.integers(1, 40))),
        )
        for k in range(n)
    ]
    return workload(jobs, nodes)


def _pool_cap(wl: Workload, tenant: str, mode: Mode) -> int:
    if mode is Mode.SHARED:
        return sum(n.gpus for n in wl.nodes)
    return sum(n.gpus for n in wl.nodes if n.tenant == tenant)


def _largest_node(wl: Workload, tenant: str, mode: Mode) -> int:
    return max((n.gpus for n in wl.nodes if mode is Mode.SHARED or n.tenant == tenant), default=0)


def check_invariants(wl: Workload, res: SimResult, mode: Mode, multi_node: bool = True) -> None:
    jobs = {j.id: j for j in wl.jobs}
    ids = [r.job_id for r in res.records]
    assert len(ids) == len(set(ids)), "a job finished twice"
    expected_rejected = {
        j.id
        for j in wl.jobs
        if j.gpus > _pool_cap(wl, j.tenant, mode)
        or (not multi_node and j.gpus > _largest_node(wl, j.tenant, mode))
    }
    assert set(res.rejected) == expected_rejected
    assert set(ids) == set(jobs) - expected_rejected, "a job never finished"
    held: dict[tuple[str, int], list[tuple[float, float]]] = defaultdict(list)
    ran: dict[str, float] = defaultdict(float)
    caps = {n.id: n.gpus for n in wl.nodes}
    owner = {n.id: n.tenant for n in wl.nodes}
    for run in res.runs:
        jb = jobs[run.job_id]
        assert run.start >= jb.submit_time, "ran before its submission"
        assert sum(len(g) for _, g in run.slots) == jb.gpus
        for node, gpus in run.slots:
            assert all(0 <= g < caps[node] for g in gpus)
            if mode is Mode.PARTITIONED:
                assert owner[node] == jb.tenant
            for g in gpus:
                held[(node, g)].append((run.start, run.end))
        ran[run.job_id] += run.end - run.start
    for spans in held.values():
        spans.sort()
        for (_, end), (start, _) in pairwise(spans):
            assert start >= end, "a GPU was held by two jobs at once"
    for r in res.records:
        jb = jobs[r.job_id]
        assert jb.duration is not None
        owed = jb.duration + r.preemptions * checkpoint_cost(jb.gpus)
        assert ran[r.job_id] == pytest.approx(owed)
        assert r.first_start >= jb.submit_time
        assert r.end - r.submit == pytest.approx(r.queued + owed)


@pytest.mark.parametrize("mode", [Mode.PARTITIONED, Mode.SHARED])
@pytest.mark.parametrize("policy", sorted(POLICIES))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wl=workloads())
def test_simulation_invariants(policy: str, mode: Mode, wl: Workload) -> None:
    """No GPU double-booked, every job ends once, never early, runs exactly what it owes."""
    res = simulate(wl, policy, mode=mode, record_runs=True)
    check_invariants(wl, res, mode)


@pytest.mark.parametrize("policy", sorted(POLICIES))
@settings(max_examples=10, deadline=None)
@given(wl=workloads())
def test_equal_inputs_give_equal_outputs(policy: str, wl: Workload) -> None:
    """Two runs on equal workloads give identical records, runs and queue series."""
    a = simulate(wl, policy, mode=Mode.SHARED, record_runs=True)
    b = simulate(wl, policy, mode=Mode.SHARED, record_runs=True)
    assert a == b


@pytest.mark.parametrize("policy", ["srtf", "las", "ailab"])
@settings(max_examples=15, deadline=None)
@given(wl=workloads())
def test_no_preemption_without_the_capability(policy: str, wl: Workload) -> None:
    """Backends without PREEMPT: preemptive policies never stop a job, invariants still hold."""
    caps = frozenset({Capability.GPU_PINNING, Capability.MULTI_NODE})
    res = simulate(wl, policy, mode=Mode.SHARED, capabilities=caps, record_runs=True)
    assert all(r.preemptions == 0 for r in res.records)
    check_invariants(wl, res, Mode.SHARED)


@pytest.mark.parametrize("policy", sorted(POLICIES))
@settings(max_examples=15, deadline=None)
@given(wl=workloads())
def test_no_multi_node_run_without_the_capability(policy: str, wl: Workload) -> None:
    """Backends without MULTI_NODE: every run is on one node; the jobs larger than any node of
    their pool are rejected (never started), the others all finish."""
    caps = frozenset(Capability) - {Capability.MULTI_NODE}
    for mode in Mode:
        res = simulate(wl, policy, mode=mode, capabilities=caps, record_runs=True)
        assert all(len(run.slots) == 1 for run in res.runs)
        check_invariants(wl, res, mode, multi_node=False)
