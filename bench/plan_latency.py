"""Latency of one ``plan()`` call at the size of a large live cluster and of a city's.

Two cases, each in shared mode with 60% of the GPUs busy and quotas split evenly:

- ``1k``: 1,000 nodes x 8 GPUs, 10,000 pending jobs of 50 tenants; target p99 <= 50 ms;
- ``city``: 10,000 nodes x 8 GPUs, 100,000 pending jobs of 500 tenants; target p99 <= 100 ms.

Each call is a whole ``plan()`` (the board from the snapshot, scheduling, a ``Wait`` for every
pending job) on the snapshot of a live loop's next pass: the jobs the previous plan started now
run, as many GPUs of running jobs have ended, and as many new jobs were submitted; the clock
moves 10 s. Snapshots reuse the entries of unchanged jobs, as the live loop's incremental
snapshot does, which is what lets ``plan()`` reuse its work (see ``scheduling/layout.py`` and
``policies/queues.py``). The first call of each run builds from nothing: its time is printed
apart ("cold") and is not in the percentiles. The baseline is ``fifo`` on the same sequence
(it reuses the board but sorts and reports its whole queue every call).

Run: ``.venv/bin/python bench/plan_latency.py [--check] [--calls N] [--case 1k|city]``.
``--check`` exits 1 if ``ailab`` misses a target (CPU time p99: on a shared machine it is less
sensitive to other processes than wall time).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass, replace

from ailab.scheduling import (
    ClusterState,
    Job,
    Mode,
    Node,
    Placement,
    RunningJob,
    Slot,
    Start,
    Tenant,
    plan,
)

GPUS, BUSY = 8, 0.6
NOW = 1_000_000.0


@dataclass(frozen=True)
class Case:
    name: str
    nodes: int
    tenants: int
    pending: int
    target_ms: float


CASES = {
    "1k": Case("1k", 1000, 50, 10_000, 50.0),
    "city": Case("city", 10_000, 500, 100_000, 100.0),
}


def _pending_job(rng: random.Random, case: Case, k: int, now: float) -> Job:
    return Job(
        f"p{k}",
        f"t{rng.randrange(case.tenants):03d}",
        rng.choice((1, 1, 1, 1, 2, 4, 8, 16)),
        now - rng.uniform(0, 3600),
        user=f"u{rng.randrange(200)}",
        name=f"job{rng.randrange(50)}",
        estimate=rng.uniform(60, 86400),
    )


def build_state(case: Case, seed: int = 1) -> ClusterState:
    rng = random.Random(seed)
    nodes = tuple(Node(f"n{i:05d}", GPUS) for i in range(case.nodes))
    quota = case.nodes * GPUS // case.tenants
    tenants = tuple(Tenant(f"t{i:03d}", quota) for i in range(case.tenants))
    running: list[RunningJob] = []
    target = int(case.nodes * GPUS * BUSY)
    busy = 0
    k = 0
    for n in nodes:
        used = 0
        while busy < target and used < GPUS:
            g = min(rng.choice((1, 1, 1, 2, 4, 8)), GPUS - used)
            tenant = f"t{rng.randrange(case.tenants):03d}"
            job = Job(f"r{k}", tenant, g, NOW - rng.uniform(0, 86400))
            slot = Slot(n.id, tuple(range(used, used + g)))
            running.append(RunningJob(job, Placement((slot,)), job.submit_time + 1.0))
            used += g
            busy += g
            k += 1
    pending = tuple(_pending_job(rng, case, i, NOW) for i in range(case.pending))
    return ClusterState(nodes, tenants, tuple(running), pending, mode=Mode.SHARED)


def next_state(
    state: ClusterState, decisions: list[object], now: float, rng: random.Random, case: Case
) -> ClusterState:
    """The live loop's next snapshot: starts applied, as many GPUs ended, as many submitted."""
    starts = {d.job_id: d for d in decisions if isinstance(d, Start)}
    moved = [j for j in state.pending if isinstance(j, Job) and j.id in starts]
    gone = sum(j.gpus for j in moved)
    running = list(state.running)
    ended: set[int] = set()
    while gone > 0 and len(ended) < len(running):
        i = rng.randrange(len(running))
        if i not in ended:
            ended.add(i)
            gone -= running[i].placement.gpus
    kept = [rj for i, rj in enumerate(running) if i not in ended]
    kept.extend(RunningJob(j, starts[j.id].placement, now) for j in moved)
    left = [j for j in state.pending if not (isinstance(j, Job) and j.id in starts)]
    base = int(now)
    left.extend(_pending_job(rng, case, base * 10_000 + i, now) for i in range(len(moved)))
    return replace(state, running=tuple(kept), pending=tuple(left))


def measure(case: Case, policy: str, calls: int) -> tuple[float, list[float], list[float]]:
    """Cold CPU ms, then sorted wall and CPU ms of ``calls`` warm calls of a live sequence."""
    rng = random.Random(7)
    state = build_state(case)
    now = NOW
    wall: list[float] = []
    cpu: list[float] = []
    cold = 0.0
    for k in range(calls + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        decisions = plan(state, policy, now)
        w, c = (time.perf_counter() - t0) * 1000.0, (time.process_time() - c0) * 1000.0
        if k == 0:
            cold = c
        else:
            wall.append(w)
            cpu.append(c)
        now += 10.0
        state = next_state(state, list(decisions), now, rng, case)
    return cold, sorted(wall), sorted(cpu)


def q(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def run_case(case: Case, calls: int, policies: tuple[str, ...]) -> bool:
    state = build_state(case)
    busy = sum(r.placement.gpus for r in state.running)
    print(f"[{case.name}] {case.nodes} nodes x {GPUS} GPUs, {busy} GPUs busy"
          f" ({busy / (case.nodes * GPUS):.0%}), {len(state.running)} running,"
          f" {len(state.pending)} pending jobs of {case.tenants} tenants;"
          f" {calls} warm calls per policy")  # fmt: skip
    p99: dict[str, float] = {}
    for policy in policies:
        cold, ts, cs = measure(case, policy, calls)
        p99[policy] = q(cs, 99)
        tag = f"  (target p99 <= {case.target_ms:.0f} ms)" if policy == "ailab" else ""
        print(f"  {policy:10} cold {cold:7.1f} ms | wall p50 {q(ts, 50):6.1f} p99 {q(ts, 99):6.1f}"
              f" | CPU p50 {q(cs, 50):6.1f} p99 {q(cs, 99):6.1f} ms{tag}")  # fmt: skip
    ok = p99["ailab"] <= case.target_ms
    ratio = p99["ailab"] / p99["fifo"]
    print(f"  ailab CPU p99 {p99['ailab']:.1f} ms = {ratio:.2f}x the fifo baseline;"
          f" {'OK' if ok else 'MISSED'} (target {case.target_ms:.0f} ms)")  # fmt: skip
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    ap.add_argument("--calls", type=int, default=0, help="warm calls per policy")
    ap.add_argument("--case", choices=sorted(CASES), action="append")
    ap.add_argument("--all-policies", action="store_true", help="every policy at 1k")
    args = ap.parse_args(argv)
    ok = True
    for name in args.case or ("1k", "city"):
        case = CASES[name]
        calls = args.calls or (100 if name == "1k" else 40)
        policies: tuple[str, ...] = ("ailab", "fifo")
        if args.all_policies and name == "1k":
            policies += ("qssf", "backfill", "fairshare", "las", "srtf", "sjf")
        ok = run_case(case, calls, policies) and ok
    if args.check and not ok:
        print("plan latency: a target was missed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
