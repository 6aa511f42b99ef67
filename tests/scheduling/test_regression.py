"""Replays of the Philly trace: a committed metrics snapshot, and the Helios reference.

The snapshot (one week, Oct 1-7 2017) catches any change of behaviour: if a change is meant,
regenerate it with ``AILAB_UPDATE_SNAPSHOTS=1 pytest tests/scheduling/test_regression.py`` and
commit the JSON with the change. The reference test replays the whole Oct-Nov window and checks
the fidelity targets against the Helios paper's simulator.
"""

from __future__ import annotations

import csv
import json
import os
from datetime import datetime
from pathlib import Path

import pytest

from ailab.scheduling.metrics import compute_metrics
from ailab.scheduling.model import Mode
from ailab.scheduling.simulator import simulate
from ailab.scheduling.traces import Workload, load_workload

from .helpers import TRACES

SNAPSHOT = Path(__file__).parent / "snapshots" / "philly_week.json"
KEYS = ("jobs", "rejected", "avg_jct_s", "median_jct_s", "avg_queue_s", "p99_queue_s",
        "frac_queued", "utilisation", "preemptions")  # fmt: skip
RUNS = (
    ("fifo", Mode.PARTITIONED, 0.5),
    ("sjf", Mode.PARTITIONED, 0.5),
    ("srtf", Mode.PARTITIONED, 0.5),
    ("qssf", Mode.PARTITIONED, 0.5),
    ("backfill", Mode.PARTITIONED, 0.5),
    ("ailab", Mode.PARTITIONED, 0.5),
    ("ailab", Mode.SHARED, 0.25),
)


def _philly(scale: float, end: datetime) -> Workload:
    if not (TRACES / "philly" / "jobs.csv.gz").is_file():
        if os.environ.get("AILAB_REQUIRE_TRACES") == "1":  # CI: a missing trace fails
            pytest.fail(f"Philly trace missing under {TRACES.resolve()} (AILAB_REQUIRE_TRACES=1)")
        pytest.skip(f"Philly trace not found under {TRACES.resolve()} (../shared/traces)")
    return load_workload(
        TRACES / "philly" / "jobs.csv.gz",
        TRACES / "philly" / "vc_nodes.csv",
        scale=scale,
        start=datetime(2017, 10, 1),
        end=end,
    )


def _week_metrics() -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    loads: dict[float, Workload] = {}
    for policy, mode, scale in RUNS:
        wl = loads.get(scale) or loads.setdefault(
            scale, _philly(scale, datetime(2017, 10, 7, 23, 59))
        )
        m = compute_metrics(simulate(wl, policy, mode=mode)).as_dict()
        out[f"{policy}/{mode.value}/{scale}"] = {k: float(m[k]) for k in KEYS}  # type: ignore[arg-type]
    return out


def test_philly_week_matches_snapshot() -> None:
    """Every policy's metrics on the first week of October equal the snapshot within 0.5%
    (floating-point sums may differ in the last digits across platforms, nothing more)."""
    got = _week_metrics()
    if os.environ.get("AILAB_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    want = json.loads(SNAPSHOT.read_text())
    assert set(got) == set(want)
    for run, metrics in want.items():
        for key, value in metrics.items():
            assert got[run][key] == pytest.approx(value, rel=5e-3, abs=1e-6), f"{run} {key}"


def _reference() -> dict[str, dict[str, float]]:
    with (TRACES / "reference" / "helios_artifact_philly_octnov.csv").open() as fh:
        return {
            r["policy"]: {"jct": float(r["avg_jct_s"]), "queue": float(r["avg_queue_s"])}
            for r in csv.DictReader(fh)
            if r["experiment"] == "qssf_philly_half"
        }


@pytest.mark.slow
def test_fidelity_against_the_helios_reference() -> None:
    """Oct-Nov at half the nodes, partitioned: fifo, sjf and srtf within 3% of the reference's
    average JCT and 10% of its average queueing delay."""
    wl = _philly(0.5, datetime(2017, 11, 30, 23, 59))
    assert len(wl.jobs) == 68_503
    ref = _reference()
    for policy in ("fifo", "sjf", "srtf"):
        m = compute_metrics(simulate(wl, policy))
        assert m.avg_jct_s == pytest.approx(ref[policy]["jct"], rel=0.03), policy
        assert m.avg_queue_s == pytest.approx(ref[policy]["queue"], rel=0.10), policy
