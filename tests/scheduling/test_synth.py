"""Helios-style workloads from the public Helios tables, and the ``ailab`` policy's gains on
them (the short version of ``bench/sim_generalise.py``)."""

from __future__ import annotations

import os

import pytest

from ailab.scheduling.metrics import compute_metrics
from ailab.scheduling.model import Mode
from ailab.scheduling.simulator import simulate
from ailab.scheduling.synth import helios_like, read_cluster_stats, read_vc_gpus

from .helpers import TRACES

HELIOS = TRACES / "helios"


def _tables() -> tuple[object, dict[str, int]]:
    if not (HELIOS / "cluster_summary.csv.gz").is_file():
        if os.environ.get("AILAB_REQUIRE_TRACES") == "1":
            pytest.fail(f"Helios tables missing under {HELIOS.resolve()}")
        pytest.skip(f"Helios tables not found under {HELIOS.resolve()} (../shared/traces)")
    stats = read_cluster_stats(HELIOS / "cluster_summary.csv.gz")
    return stats, read_vc_gpus(HELIOS / "venus_vc_gpus_daily.csv.gz", "2020-06-15")


def test_workload_has_users_names_and_the_days_tenants() -> None:
    """Tenants are the VCs with GPUs that day (scaled to the cluster's GPUs); jobs carry users
    and recurring names; equal arguments give equal workloads, another seed another one; the
    jobs do not change with the scale of the hardware."""
    stats, vcs = _tables()
    earth = stats["Earth"]  # type: ignore[index]
    wl = helios_like(earth, vcs, days=0.5, seed=1)
    assert {t.id for t in wl.tenants} == set(vcs)
    assert abs(sum(n.gpus for n in wl.nodes) - earth.gpus) <= 8 * len(vcs)
    assert len({j.user for j in wl.jobs}) > len(vcs)
    assert len({(j.user, j.name) for j in wl.jobs}) < len(wl.jobs) / 5  # names recur
    assert all(j.duration is not None and j.duration >= 1 for j in wl.jobs)
    assert helios_like(earth, vcs, days=0.5, seed=1) == wl
    assert helios_like(earth, vcs, days=0.5, seed=2).jobs != wl.jobs
    half = helios_like(earth, vcs, days=0.5, seed=1, scale=0.5)
    assert half.jobs == wl.jobs
    assert sum(n.gpus for n in half.nodes) < sum(n.gpus for n in wl.nodes)


def test_ailab_gains_hold_on_a_helios_style_day() -> None:
    """One day of a Saturn-like trace: on the same hardware ailab's p99 queueing is no worse
    than qssf's; on half the hardware shared its average queueing is at most half of qssf's
    on the full partitioned cluster."""
    stats, vcs = _tables()
    saturn = stats["Saturn"]  # type: ignore[index]
    full = helios_like(saturn, vcs, days=1.0, seed=11)
    half = helios_like(saturn, vcs, days=1.0, seed=11, scale=0.5)
    qp = compute_metrics(simulate(full, "qssf", mode=Mode.PARTITIONED))
    ap = compute_metrics(simulate(full, "ailab", mode=Mode.PARTITIONED))
    ah = compute_metrics(simulate(half, "ailab", mode=Mode.SHARED))
    assert qp.avg_queue_s > 0  # the trace queues at all
    assert ap.p99_queue_s <= qp.p99_queue_s
    assert ah.avg_queue_s <= 0.5 * qp.avg_queue_s
