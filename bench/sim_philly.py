"""Philly benchmark: fidelity to the Helios simulator, speed, and the quality of ``ailab``.

Setup (issue 3): Philly jobs submitted 2017-10-01 00:00 to 2017-11-30 23:59, tenants' nodes from
vc_nodes.csv, 8 GPUs per node. Prints:

1. fidelity: fifo, sjf, srtf (and qssf) partitioned at scale 0.5 against the reference;
2. speed: the simulation wall time of the four reference policies (fifo, sjf, srtf, qssf) run
   one after the other in this process on one core; the trace is loaded once, before the clock
   starts (its load time is printed apart), and the ratio against the reference's 948 s; the
   process' peak memory (max RSS);
3. quality on the same hardware: ailab partitioned at 0.5 against qssf and sjf;
4. quality on half the hardware: ailab shared at 0.25 against the targets, and per tenant.

Run: ``.venv/bin/python bench/sim_philly.py [--check]`` (about a minute); ``--check`` exits 1
if a fidelity, speed, memory or quality target is missed.
"""

from __future__ import annotations

import csv
import resource
import sys
import time
from datetime import datetime
from pathlib import Path

from ailab.scheduling.metrics import Metrics, compute_metrics
from ailab.scheduling.model import Mode
from ailab.scheduling.simulator import simulate
from ailab.scheduling.traces import Workload, load_workload

TRACES = Path(__file__).resolve().parents[1].parent / "shared" / "traces"
START, END = datetime(2017, 10, 1), datetime(2017, 11, 30, 23, 59)
REFERENCE_WALL_S = 948.28


def reference() -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    with (TRACES / "reference" / "helios_artifact_philly_octnov.csv").open() as fh:
        for row in csv.DictReader(fh):
            if row["experiment"] == "qssf_philly_half":
                out[row["policy"]] = {k: float(v) for k, v in row.items() if k.endswith("_s")}
    return out


def load(scale: float) -> Workload:
    return load_workload(
        TRACES / "philly" / "jobs.csv.gz",
        TRACES / "philly" / "vc_nodes.csv",
        scale=scale,
        start=START,
        end=END,
    )


def run(wl: Workload, policy: str, mode: Mode) -> tuple[Metrics, float]:
    m, wall, _ = run_timed(wl, policy, mode)
    return m, wall


def run_timed(wl: Workload, policy: str, mode: Mode) -> tuple[Metrics, float, float]:
    """Metrics, wall seconds and CPU seconds of this process for one simulation."""
    t0, c0 = time.perf_counter(), time.process_time()
    res = simulate(wl, policy, mode=mode)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return compute_metrics(res), wall, cpu


def pct(ours: float, ref: float) -> str:
    return f"{(ours - ref) / ref * 100:+.1f}%"


MISSED: list[str] = []


def target(ok: bool, what: str) -> bool:
    if not ok:
        MISSED.append(what)
    return ok


def fidelity_and_speed(wl: Workload) -> dict[str, Metrics]:
    ref = reference()
    print("\n== 1. Fidelity: partitioned, scale 0.5 (1,408 GPUs) vs Helios reference ==")
    print(f"{'policy':8} {'avg JCT':>9} {'ref':>9} {'diff':>7} | {'avg queue':>9} {'ref':>7}"
          f" {'diff':>7} | {'p99 queue':>9} {'ref':>8} | {'wall s':>6}")  # fmt: skip
    got: dict[str, Metrics] = {}
    total = cpu_total = 0.0
    for name in ("fifo", "sjf", "srtf", "qssf"):
        m, wall, cpu = run_timed(wl, name, Mode.PARTITIONED)
        total += wall
        cpu_total += cpu
        got[name] = m
        r = ref[name]
        rj, rq = r["avg_jct_s"], r["avg_queue_s"]
        if name != "qssf":
            target(abs(m.avg_jct_s - rj) <= 0.03 * rj, f"{name} avg JCT fidelity")
            target(abs(m.avg_queue_s - rq) <= 0.10 * rq, f"{name} avg queue fidelity")
        print(
            f"{name:8} {m.avg_jct_s:9.0f} {rj:9.0f} {pct(m.avg_jct_s, rj):>7}"
            f" | {m.avg_queue_s:9.0f} {rq:7.0f} {pct(m.avg_queue_s, rq):>7}"
            f" | {m.p99_queue_s:9.0f} {r['p99_queue_s']:8.0f} | {wall:6.2f}"
        )
    print("(fidelity target: fifo, sjf, srtf within +-3% avg JCT and +-10% avg queue;"
          " qssf depends on the estimator)")  # fmt: skip
    print("\n== 2. Speed ==")
    ratio = REFERENCE_WALL_S / total
    target(cpu_total <= 4.7, "speed (CPU <= 4.7 s)")
    print(f"four reference policies, simulation only (trace loaded once before), one core:"
          f" wall {total:.2f} s, CPU {cpu_total:.2f} s (target <= 4.7 s);"
          f" reference {REFERENCE_WALL_S:.0f} s -> {ratio:.0f}x on wall time"
          f" ({REFERENCE_WALL_S / cpu_total:.0f}x on CPU time; target >= 200x)")  # fmt: skip
    return got


def quality_same(wl: Workload, ref: dict[str, Metrics]) -> None:
    print("\n== 3. Quality, same hardware: ailab partitioned at 0.5, no oracle ==")
    m, wall = run(wl, "ailab", Mode.PARTITIONED)
    q, s = ref["qssf"], ref["sjf"]
    target(m.avg_queue_s <= q.avg_queue_s, "ailab avg queue <= qssf, same hardware")
    print(f"ailab avg queue {m.avg_queue_s:.0f} s (qssf {q.avg_queue_s:.0f} s, sjf oracle"
          f" {s.avg_queue_s:.0f} s) -> {'OK' if m.avg_queue_s <= q.avg_queue_s else 'NOT MET'};"
          f" avg JCT {m.avg_jct_s:.0f} s; p99 queue {m.p99_queue_s:.0f} s;"
          f" wall {wall:.2f} s")  # fmt: skip


def quality_half(wl25: Workload, part50: Metrics) -> None:
    print("\n== 4. Quality, half the hardware: ailab shared at 0.25 (704 GPUs), no oracle ==")
    m, wall = run(wl25, "ailab", Mode.SHARED)
    own25, _ = run(wl25, "qssf", Mode.PARTITIONED)
    checks = [
        ("avg queue", m.avg_queue_s, 980.0),
        ("avg JCT", m.avg_jct_s, 12_500.0),
        ("p99 queue", m.p99_queue_s, 36_718.0),
    ]
    for label, value, limit in checks:
        target(value <= limit, f"shared 0.25 {label}")
        print(f"{label:10} {value:9.0f} s  target <= {limit:8.0f}  "
              f"{'OK' if value <= limit else 'NOT MET'}")  # fmt: skip
    print(f"(preemptions {m.preemptions}, utilisation {m.utilisation:.1%}, wall {wall:.2f} s)")
    print(f"\n{'tenant':8} {'jobs':>6} | {'shared 0.25':>11} | {'own 0.5 qssf':>12} |"
          f" {'own 0.25 qssf':>13} | {'vs own 0.25':>11}")  # fmt: skip
    bad = 0
    for t, tm in sorted(m.per_tenant.items(), key=lambda kv: -kv[1].jobs):
        a = part50.per_tenant[t].avg_jct_s
        b = own25.per_tenant[t].avg_jct_s
        ok = tm.jobs < 100 or tm.avg_jct_s <= 1.02 * b
        bad += not ok
        print(f"{t:8} {tm.jobs:6d} | {tm.avg_jct_s:11.0f} | {a:12.0f} | {b:13.0f} |"
              f" {tm.avg_jct_s / b:10.2f}x {'' if ok else 'NOT MET'}")  # fmt: skip
    target(bad == 0, "sharing never hurts")
    print(f"sharing never hurts (tenants with >= 100 jobs within 2% of own partition at 0.25):"
          f" {'OK' if bad == 0 else f'NOT MET for {bad}'}")  # fmt: skip


def main() -> int:
    if not TRACES.is_dir():
        print(f"traces not found at {TRACES}", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    wl50 = load(0.5)
    print(f"trace loaded once in {time.perf_counter() - t0:.2f} s: {len(wl50.jobs)} jobs,"
          f" {wl50.dropped_unknown_tenant} dropped (tenants absent from vc_nodes.csv),"
          f" {sum(n.gpus for n in wl50.nodes)} GPUs")  # fmt: skip
    got = fidelity_and_speed(wl50)
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak memory after loading and the four runs (max RSS): {rss_kb / 1024:.0f} MB"
          " (target <= 500 MB)")  # fmt: skip
    quality_same(wl50, got)
    wl25 = load(0.25)
    quality_half(wl25, got["qssf"])
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"\npeak memory (max RSS of this process, all runs): {rss_kb / 1024:.0f} MB"
          " (target <= 500 MB)")  # fmt: skip
    target(rss_kb / 1024 <= 500, "peak memory")
    print(f"missed: {', '.join(MISSED)}" if MISSED else "all targets met")
    return 1 if "--check" in sys.argv[1:] and MISSED else 0


if __name__ == "__main__":
    sys.exit(main())
