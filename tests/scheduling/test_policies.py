"""Each policy on a hand-made trace whose right answer is worked out in the docstring."""

from __future__ import annotations

import pytest

from ailab.scheduling.model import Capability, Mode
from ailab.scheduling.policies.ailab import Ailab
from ailab.scheduling.policies.las import Las
from ailab.scheduling.simulator import simulate

from .helpers import by_id, job, workload

NO_PREEMPT = frozenset({Capability.GPU_PINNING})


def test_fifo_head_blocks() -> None:
    """One 4-GPU node. A(2 GPUs, t=0, 10 s), B(4, t=1, 5 s), C(1, t=2, 1 s).

    A runs 0-10. B needs the whole node: it waits for A. C would fit at t=2 but B is ahead of
    it and strict FIFO lets the head block: B runs 10-15, then C 15-16.
    """
    wl = workload([job("A", 2, 0, 10), job("B", 4, 1, 5), job("C", 1, 2, 1)])
    r = by_id(simulate(wl, "fifo"))
    assert (r["A"].first_start, r["B"].first_start, r["C"].first_start) == (0, 10, 15)
    assert r["C"].end == 16
    assert r["C"].queued == 13


def test_backfill_fills_the_hole_without_delaying_the_head() -> None:
    """Same trace as FIFO, with time limits A=10 s, B=5 s, C=1 s.

    At t=1 B gets a reservation for t=10 (A's limit ends then). C (limit 1 s) ends at 3 <= 10,
    so EASY starts it at t=2. B still starts at 10. A job D(2 GPUs, t=3, limit 20 s) would end
    after the reservation and needs GPUs B will need, so it waits until B is done (t=15).
    """
    wl = workload(
        [
            job("A", 2, 0, 10, time_limit=10.0),
            job("B", 4, 1, 5, time_limit=5.0),
            job("C", 1, 2, 1, time_limit=1.0),
            job("D", 2, 3, 20, time_limit=20.0),
        ]
    )
    r = by_id(simulate(wl, "backfill"))
    assert r["C"].first_start == 2
    assert r["B"].first_start == 10
    assert r["D"].first_start == 15


def test_sjf_orders_by_true_duration() -> None:
    """One 1-GPU node. A(t=0, 10 s), B(t=1, 5 s), C(t=2, 1 s).

    A starts at once. At t=10 the shortest waiting job is C: C 10-11, then B 11-16.
    """
    wl = workload([job("A", 1, 0, 10), job("B", 1, 1, 5), job("C", 1, 2, 1)], [(1, "a")])
    r = by_id(simulate(wl, "sjf"))
    assert (r["C"].first_start, r["B"].first_start) == (10, 11)
    assert r["B"].end == 16


def test_srtf_preempts_for_shorter_remaining_time() -> None:
    """One 1-GPU node, same jobs; preemption costs 7 s for a 1-GPU job.

    t=0 A starts (10 s left). t=1 B (5 s) < A (9 s): A is preempted and owes 9 + 7 = 16 s.
    t=2 C (1 s) < B (4 s): B is preempted, owes 4 + 7 = 11 s; C runs 2-3. Then B (11 s)
    before A (16 s): B 3-14, A 14-30.
    """
    wl = workload([job("A", 1, 0, 10), job("B", 1, 1, 5), job("C", 1, 2, 1)], [(1, "a")])
    r = by_id(simulate(wl, "srtf"))
    assert (r["C"].end, r["B"].end, r["A"].end) == (3, 14, 30)
    assert (r["A"].preemptions, r["B"].preemptions, r["C"].preemptions) == (1, 1, 0)
    assert r["A"].queued == 30 - (1 + 16)


def test_srtf_without_preempt_capability_does_not_preempt() -> None:
    """Same trace, backend without PREEMPT: nobody is stopped, so it behaves like SJF."""
    wl = workload([job("A", 1, 0, 10), job("B", 1, 1, 5), job("C", 1, 2, 1)], [(1, "a")])
    r = by_id(simulate(wl, "srtf", capabilities=NO_PREEMPT))
    assert (r["A"].end, r["C"].end, r["B"].end) == (10, 11, 16)
    assert all(x.preemptions == 0 for x in r.values())


def test_qssf_learns_from_finished_jobs_not_the_true_duration() -> None:
    """One 2-GPU node. A(2 GPUs, t=0, 10 s) runs first.

    B(2 GPUs, t=1, truly 1 s) and C(1 GPU, t=2, truly 100 s) wait. When A ends at t=10 the
    estimator has seen one run of 10 s (same tenant): both are estimated at 10 s, so
    priority = GPUs x 10: C (10) before B (20), although B is truly much shorter. C starts at
    10; B needs both GPUs and, the queue being strict, waits for C: B runs 110-111.
    """
    wl = workload([job("A", 2, 0, 10), job("B", 2, 1, 1), job("C", 1, 2, 100)], [(2, "a")])
    r = by_id(simulate(wl, "qssf"))
    assert r["C"].first_start == 10
    assert r["B"].first_start == 110


def test_las_demotes_long_running_jobs() -> None:
    """One 1-GPU node, LAS with a 10 GPU-second threshold.

    A(t=0, 100 s) runs alone. At t=50, B(10 s) arrives: A has 50 GPU-s of service (low queue),
    B none (high queue), so A is preempted (owes 50 + 7 s) and B runs 50-60. A resumes at 60
    and ends at 117.
    """
    wl = workload([job("A", 1, 0, 100), job("B", 1, 50, 10)], [(1, "a")])
    r = by_id(simulate(wl, Las(threshold=10.0)))
    assert (r["B"].first_start, r["B"].end) == (50, 60)
    assert r["A"].end == 117
    assert r["A"].preemptions == 1


def test_fairshare_serves_the_tenant_with_less_usage_first() -> None:
    """Shared 1-GPU node, tenants a and b with equal shares.

    a's A1 (t=0, 100 s) runs first and is charged 100 GPU-s when it ends. Waiting then: a's A2
    (t=1) and b's B1 (t=2). b has used nothing, so its fair-share factor is 1 against a's 2^-2:
    B1 runs 100-110 although A2 was submitted first; A2 runs 110-120.
    """
    wl = workload(
        [
            job("A1", 1, 0, 100),
            job("A2", 1, 1, 10),
            job("B1", 1, 2, 10, tenant="b"),
        ],
        [(1, "a")],
        quotas={"a": 1, "b": 1},
    )
    r = by_id(simulate(wl, "fairshare", mode=Mode.SHARED))
    assert r["B1"].first_start == 100
    assert r["A2"].first_start == 110


def _lending_trace() -> list:  # type: ignore[type-arg]
    return [
        job("A1", 2, 0, 100),
        job("A2", 2, 0, 100),
        job("B1", 2, 10, 10, tenant="b"),
    ]


def test_ailab_lends_idle_gpus_and_reclaims_them() -> None:
    """Shared: nodes n0 (2 GPUs, a's) and n1 (2 GPUs, b's); each tenant is guaranteed 2 GPUs.

    At t=0 a submits A1 and A2 (2 GPUs, 100 s each): A1 uses a's quota, A2 borrows b's idle
    GPUs. At t=10 b submits B1 (2 GPUs, 10 s): it is within b's quota, so the loan A2 is
    preempted (owes 90 + 30 s checkpoint) and B1 runs 10-20. A2 resumes at 20 and ends at 140.
    """
    wl = workload(_lending_trace(), [(2, "a"), (2, "b")])
    r = by_id(simulate(wl, "ailab", mode=Mode.SHARED))
    assert r["A2"].first_start == 0
    assert (r["B1"].first_start, r["B1"].end) == (10, 20)
    assert (r["A2"].end, r["A2"].preemptions) == (140, 1)
    assert r["A1"].end == 100


def test_ailab_without_preempt_cannot_reclaim() -> None:
    """Same trace, backend without PREEMPT: the loan runs on, B1 waits for a GPU (t=100)."""
    wl = workload(_lending_trace(), [(2, "a"), (2, "b")])
    r = by_id(simulate(wl, "ailab", mode=Mode.SHARED, capabilities=NO_PREEMPT))
    assert r["B1"].first_start == 100
    assert all(x.preemptions == 0 for x in r.values())


def test_ailab_partitioned_never_borrows() -> None:
    """Partitioned: A2 cannot use b's idle node, so it waits for A1 (runs 100-200)."""
    wl = workload(_lending_trace(), [(2, "a"), (2, "b")])
    r = by_id(simulate(wl, "ailab", mode=Mode.PARTITIONED))
    assert r["A2"].first_start == 100
    assert r["B1"].first_start == 10


@pytest.mark.parametrize("policy", ["fifo", "sjf", "srtf", "qssf", "backfill", "las", "ailab"])
def test_job_larger_than_its_partition_is_rejected(policy: str) -> None:
    """A 16-GPU job in a tenant with 8 GPUs never fits: rejected, the others all run."""
    wl = workload([job("big", 16, 0, 10), job("ok", 8, 1, 10)], [(8, "a"), (8, "b")])
    res = simulate(wl, policy)
    assert res.rejected == ("big",)
    assert [r.job_id for r in res.records] == ["ok"]


def test_ailab_demotes_jobs_that_ran_long() -> None:
    """Partitioned, one 1-GPU node, demotion after 10 GPU-seconds.

    A(t=0, 100 s) runs alone and crosses the threshold at t=10. B(t=50, 10 s) is new (level 0)
    and may preempt its own tenant's demoted job: A stops at 50 (owes 50 + 7 s), B runs 50-60,
    A resumes at 60 and ends at 117.
    """
    wl = workload([job("A", 1, 0, 100), job("B", 1, 50, 10)], [(1, "a")])
    r = by_id(simulate(wl, Ailab(threshold=10.0)))
    assert (r["B"].first_start, r["B"].end) == (50, 60)
    assert (r["A"].end, r["A"].preemptions) == (117, 1)
