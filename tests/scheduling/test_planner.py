"""``plan()``: placement, decisions, reasons, capabilities, determinism, and the simulator."""

from __future__ import annotations

import heapq

import pytest

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
    WaitReason,
    pending_reasons,
    plan,
)
from ailab.scheduling.simulator import simulate

from .helpers import job, workload

NODES8 = (Node("n0", 8), Node("n1", 8), Node("n2", 8))
T = (Tenant("a", 24),)


def _running(jid: str, node: str, gpus: tuple[int, ...], tenant: str = "a") -> RunningJob:
    return RunningJob(Job(jid, tenant, len(gpus), 0.0), Placement((Slot(node, gpus),)), 0.0)


def starts(decisions: list) -> dict[str, Placement]:  # type: ignore[type-arg]
    return {d.job_id: d.placement for d in decisions if isinstance(d, Start)}


def test_best_fit_picks_the_fullest_node_that_fits() -> None:
    """n0 has 3 free GPUs (5 held), n1 8, n2 2: a 2-GPU job goes on n2, a 3-GPU job on n0.

    The GPUs given are free ones, lowest index first (n0 holds 0-4, so 5, 6, 7).
    """
    state = ClusterState(
        NODES8,
        T,
        running=(_running("r0", "n0", (0, 1, 2, 3, 4)), _running("r2", "n2", tuple(range(6)))),
        pending=(Job("x", "a", 2, 1.0), Job("y", "a", 3, 2.0)),
    )
    s = starts(plan(state, "fifo", 10.0))
    assert s["x"] == Placement((Slot("n2", (6, 7)),))
    assert s["y"] == Placement((Slot("n0", (5, 6, 7)),))


def test_jobs_larger_than_a_node_take_whole_nodes() -> None:
    """A 16-GPU job takes two whole free nodes; a 9-GPU job one whole node plus 1 GPU elsewhere.

    Nodes: n0 free, n1 free, n2 free. The 16-GPU job (first) takes n0 and n1; the 9-GPU job
    then cannot get a whole node and waits.
    """
    state = ClusterState(NODES8, T, pending=(Job("big", "a", 16, 1.0), Job("odd", "a", 9, 2.0)))
    d = plan(state, "fifo", 10.0)
    s = starts(d)
    assert s["big"].node_ids == ("n0", "n1")
    assert all(len(sl.gpu_indices) == 8 for sl in s["big"].slots)
    assert pending_reasons(d) == {"odd": "resources"}
    state2 = ClusterState(NODES8, T, pending=(Job("odd", "a", 9, 2.0),))
    s2 = starts(plan(state2, "fifo", 10.0))
    assert [len(sl.gpu_indices) for sl in s2["odd"].slots] == [8, 1]


def test_decisions_order_and_reasons() -> None:
    """FIFO on one 8-GPU node with 6 GPUs held: a 4-GPU head blocks a 1-GPU job behind it.

    The head waits for "resources", the job behind it for "priority"; a 16-GPU job never fits.
    """
    state = ClusterState(
        (Node("n0", 8),),
        (Tenant("a", 8),),
        running=(_running("r", "n0", tuple(range(6))),),
        pending=(Job("h", "a", 4, 1.0), Job("s", "a", 1, 2.0), Job("huge", "a", 16, 3.0)),
    )
    d = plan(state, "fifo", 5.0)
    assert d == [
        Wait("huge", WaitReason.NEVER_FITS, "16 GPUs, the pool has 8"),
        Wait("h", WaitReason.RESOURCES),
        Wait("s", WaitReason.PRIORITY),
    ]
    assert [w.reason for w in d if isinstance(w, Wait)] == ["never fits", "resources", "priority"]


def test_backfill_reason_names_the_reserved_job() -> None:
    """EASY: a job behind a blocked head that would delay it waits "reserved for job <head>".

    n0 has 2 free GPUs until r ends at 100. The head h needs all 8: reserved for t=100, no GPU
    to spare then. s (2 GPUs, limit 500 s) fits now but would still hold 2 GPUs at 100.
    """
    state = ClusterState(
        (Node("n0", 8),),
        (Tenant("a", 8),),
        running=(
            RunningJob(
                Job("r", "a", 6, 0.0, time_limit=100.0),
                Placement((Slot("n0", tuple(range(6))),)),
                0.0,
            ),
        ),
        pending=(Job("h", "a", 8, 1.0, time_limit=10.0), Job("s", "a", 2, 2.0, time_limit=500.0)),
    )
    d = plan(state, "backfill", 5.0)
    assert pending_reasons(d) == {"h": "resources", "s": "reserved for job h"}
    last = d[-1]
    assert last == Wait("s", WaitReason.RESERVED, "h")
    assert isinstance(last, Wait)
    assert last.text == "reserved: GPUs held back for job h"


def _loan_state(caps: frozenset[Capability]) -> ClusterState:
    """b borrows a's whole node; a now wants its guaranteed 8 GPUs back."""
    return ClusterState(
        (Node("na", 8, "a"), Node("nb", 8, "b")),
        (Tenant("a", 8), Tenant("b", 8)),
        running=(
            _running("b1", "nb", tuple(range(8)), tenant="b"),
            _running("b2", "na", tuple(range(8)), tenant="b"),
        ),
        pending=(Job("a1", "a", 8, 5.0),),
        mode=Mode.SHARED,
        capabilities=caps,
    )


def test_ailab_reclaims_a_loan_with_preempt() -> None:
    """b's second job runs beyond b's quota on a's node: a's job preempts it and starts there."""
    d = plan(_loan_state(frozenset(Capability)), "ailab", 10.0)
    assert isinstance(d[0], Preempt)
    assert d[0].job_id == "b2"
    assert starts(d)["a1"].node_ids == ("na",)


def test_no_preempt_decision_without_the_capability() -> None:
    """Same state, backend without PREEMPT: no Preempt, and a's job waits for its quota."""
    d = plan(_loan_state(frozenset({Capability.GPU_PINNING})), "ailab", 10.0)
    assert not any(isinstance(x, Preempt) for x in d)
    assert pending_reasons(d) == {"a1": "resources"}


@pytest.mark.parametrize("policy", ["fifo", "sjf", "srtf", "qssf", "backfill", "las", "ailab"])
def test_plan_is_deterministic(policy: str) -> None:
    """Equal states give equal decision lists, whatever the policy."""
    pend = tuple(
        Job(f"p{i}", "ab"[i % 2], 1 + i % 5, float(i), duration=10.0 + i) for i in range(40)
    )
    state = ClusterState(
        (Node("n0", 8, "a"), Node("n1", 8, "b"), Node("n2", 4, "a")),
        (Tenant("a", 12), Tenant("b", 8)),
        running=(_running("r", "n0", (0, 1, 2)),),
        pending=pend,
        mode=Mode.SHARED,
    )
    assert plan(state, policy, 50.0) == plan(state, policy, 50.0)


def test_running_gpus_are_never_handed_out_again() -> None:
    """Every GPU of the only node is held: nothing starts, whatever the policy."""
    state = ClusterState(
        (Node("n0", 4),),
        (Tenant("a", 4),),
        running=(_running("r", "n0", (0, 1, 2, 3)),),
        pending=(Job("x", "a", 1, 1.0),),
    )
    for policy in ("fifo", "sjf", "srtf", "qssf", "backfill", "las", "fairshare", "ailab"):
        assert not starts(plan(state, policy, 5.0))


def test_a_gpu_held_twice_in_the_snapshot_is_an_error() -> None:
    """Two running jobs claiming GPU 0 of n0 is a broken snapshot: ValueError, not a plan."""
    state = ClusterState(
        (Node("n0", 4),),
        (Tenant("a", 4),),
        running=(_running("r1", "n0", (0,)), _running("r2", "n0", (0, 1))),
    )
    with pytest.raises(ValueError, match="held twice"):
        plan(state, "fifo", 1.0)


def replay_through_plan(wl, policy: str) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """A slow simulator that rebuilds a ClusterState and calls plan() at every event."""
    arrivals = list(wl.jobs)
    running: dict[str, tuple[RunningJob, float]] = {}
    pending: list[Job] = []
    first: dict[str, float] = {}
    ends: list[tuple[float, str]] = []
    i = 0
    while i < len(arrivals) or ends:
        t = min(arrivals[i].submit_time if i < len(arrivals) else float("inf"),
                ends[0][0] if ends else float("inf"))  # fmt: skip
        while ends and ends[0][0] <= t:
            running.pop(heapq.heappop(ends)[1])
        while i < len(arrivals) and arrivals[i].submit_time <= t:
            pending.append(arrivals[i])
            i += 1
        state = ClusterState(
            wl.nodes,
            wl.tenants,
            tuple(rj for rj, _ in running.values()),
            tuple(pending),
            mode=Mode.PARTITIONED,
        )
        for d in plan(state, policy, t):
            if isinstance(d, Start):
                jb = next(p for p in pending if p.id == d.job_id)
                pending.remove(jb)
                assert jb.duration is not None
                running[jb.id] = (RunningJob(jb, d.placement, t), t + jb.duration)
                heapq.heappush(ends, (t + jb.duration, jb.id))
                first[jb.id] = t
    return first


@pytest.mark.parametrize("policy", ["fifo", "sjf", "backfill"])
def test_simulator_and_plan_take_the_same_decisions(policy: str) -> None:
    """The simulator's incremental board and a fresh plan() per event start every job at the
    same time (jobs carry time limits, so backfill needs no learned estimate)."""
    jobs = [
        job(f"j{k}", [1, 2, 4, 8, 1, 3][k % 6], float(k * 3 % 17 + k), float(5 + (k * 7) % 23),
            tenant="ab"[k % 2], time_limit=float(5 + (k * 7) % 23) + 3.0)
        for k in range(40)
    ]  # fmt: skip
    wl = workload(jobs, [(8, "a"), (4, "a"), (8, "b")])
    fast = {r.job_id: r.first_start for r in simulate(wl, policy).records}
    assert fast == replay_through_plan(wl, policy)


def test_fairshare_reads_decayed_usage_from_the_state() -> None:
    """Shared 1-GPU node, equal weights; a has used 10^6 GPU-s, b nothing. a's job was submitted
    first, but b's fair-share factor (1) beats a's (2^-2), so b's job starts; a's waits."""
    state = ClusterState(
        (Node("n0", 1),),
        (Tenant("a", 1), Tenant("b", 1)),
        pending=(Job("a1", "a", 1, 0.0), Job("b1", "b", 1, 5.0)),
        usage={"a": 1e6, "b": 0.0},
        mode=Mode.SHARED,
    )
    d = plan(state, "fairshare", 10.0)
    assert list(starts(d)) == ["b1"]
    assert list(pending_reasons(d)) == ["a1"]


def test_ailab_says_quota_when_a_tenant_is_at_its_guarantee() -> None:
    """a holds its whole 8-GPU quota on a full cluster; its next job waits with "quota"."""
    state = ClusterState(
        (Node("na", 8, "a"), Node("nb", 8, "b")),
        (Tenant("a", 8), Tenant("b", 8)),
        running=(
            _running("a0", "na", tuple(range(8))),
            _running("b0", "nb", tuple(range(8)), tenant="b"),
        ),
        pending=(Job("a1", "a", 1, 5.0),),
        mode=Mode.SHARED,
    )
    assert pending_reasons(plan(state, "ailab", 10.0)) == {"a1": "quota"}


def test_gpus_held_outside_the_tenants_partition_are_still_held() -> None:
    """Partitioned: a job of b runs on a's node n0 (GPUs 0-5; moved there by hand, say). Those
    GPUs are busy for everyone: a's 4-GPU job does not fit n0's 2 free GPUs and waits."""
    state = ClusterState(
        (Node("n0", 8, "a"), Node("n1", 8, "b")),
        (Tenant("a", 8), Tenant("b", 8)),
        running=(_running("b0", "n0", tuple(range(6)), tenant="b"),),
        pending=(Job("a1", "a", 4, 1.0), Job("a2", "a", 2, 2.0)),
        mode=Mode.PARTITIONED,
    )
    d = plan(state, "fifo", 5.0)
    assert starts(d) == {}
    assert pending_reasons(d) == {"a1": "resources", "a2": "priority"}


def test_jobs_of_unknown_tenants_wait_with_that_reason() -> None:
    """A job whose tenant is not in the state is never started: "unknown tenant"."""
    state = ClusterState((Node("n0", 8),), (Tenant("a", 8),), pending=(Job("x", "zz", 1, 0.0),))
    for policy in ("fifo", "backfill", "ailab"):
        assert plan(state, policy, 1.0) == [Wait("x", WaitReason.UNKNOWN_TENANT)]


@pytest.mark.parametrize("policy", ["fifo", "srtf", "las", "ailab", "backfill", "fairshare"])
def test_running_job_of_an_unknown_tenant_keeps_its_gpus(policy: str) -> None:
    """A running job whose tenant is not in the state still holds its GPUs and is never
    preempted for anyone: the 8-GPU job waits, the 4-GPU job takes the free half."""
    state = ClusterState(
        (Node("n0", 8, "a"),),
        (Tenant("a", 8),),
        running=(_running("ghost", "n0", (0, 1, 2, 3), tenant="zz"),),
        pending=(Job("big", "a", 8, 1.0), Job("half", "a", 4, 2.0)),
        mode=Mode.SHARED,
    )
    d = plan(state, policy, 100_000.0)
    assert not any(isinstance(x, Preempt) for x in d)
    assert "big" not in starts(d)
