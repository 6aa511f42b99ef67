"""Latency of one ``plan()`` call at the size of a large live cluster.

1,000 nodes x 8 GPUs, 60% of the GPUs busy, 10,000 pending jobs of 50 tenants (quotas split
evenly, shared mode). Each call is a whole ``plan()``: building the board from the snapshot,
scheduling, and the wait reasons of every pending job. Prints p50/p99/max over repeated calls
per policy; the target is p99 <= 50 ms for the default policy ``ailab``.

Run: ``.venv/bin/python bench/plan_latency.py [repeats]``.
"""

from __future__ import annotations

import random
import sys
import time

from ailab.scheduling import (
    ClusterState,
    Job,
    Mode,
    Node,
    Placement,
    RunningJob,
    Slot,
    Tenant,
    plan,
)

NODES, GPUS, TENANTS, PENDING, BUSY = 1000, 8, 50, 10_000, 0.6
NOW = 1_000_000.0


def build_state(seed: int = 1) -> ClusterState:
    rng = random.Random(seed)
    nodes = tuple(Node(f"n{i:04d}", GPUS) for i in range(NODES))
    quota = NODES * GPUS // TENANTS
    tenants = tuple(Tenant(f"t{i:02d}", quota) for i in range(TENANTS))
    running: list[RunningJob] = []
    target = int(NODES * GPUS * BUSY)
    busy = 0
    k = 0
    for n in nodes:
        used = 0
        while busy < target and used < GPUS:
            g = min(rng.choice((1, 1, 1, 2, 4, 8)), GPUS - used)
            job = Job(f"r{k}", f"t{rng.randrange(TENANTS):02d}", g, NOW - rng.uniform(0, 86400))
            slot = Slot(n.id, tuple(range(used, used + g)))
            running.append(RunningJob(job, Placement((slot,)), job.submit_time + 1.0))
            used += g
            busy += g
            k += 1
    pending = tuple(
        Job(
            f"p{i}",
            f"t{rng.randrange(TENANTS):02d}",
            rng.choice((1, 1, 1, 1, 2, 4, 8, 16)),
            NOW - rng.uniform(0, 3600),
            user=f"u{rng.randrange(200)}",
            name=f"job{rng.randrange(50)}",
            estimate=rng.uniform(60, 86400),
        )
        for i in range(PENDING)
    )
    return ClusterState(nodes, tenants, tuple(running), pending, mode=Mode.SHARED)


def measure(state: ClusterState, policy: str, repeats: int) -> tuple[list[float], list[float]]:
    """Sorted wall and CPU milliseconds of ``repeats`` calls (CPU time is what this process
    used, less sensitive to other processes on a shared machine)."""
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        plan(state, policy, NOW)
        wall.append((time.perf_counter() - t0) * 1000.0)
        cpu.append((time.process_time() - c0) * 1000.0)
    return sorted(wall), sorted(cpu)


def q(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def main() -> int:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    state = build_state()
    busy = sum(r.placement.gpus for r in state.running)
    print(f"{NODES} nodes x {GPUS} GPUs, {busy} GPUs busy ({busy / (NODES * GPUS):.0%}),"
          f" {len(state.running)} running, {len(state.pending)} pending jobs of {TENANTS} tenants;"
          f" {repeats} calls per policy")  # fmt: skip
    p99: dict[str, float] = {}
    for policy in ("ailab", "fifo", "qssf", "backfill", "fairshare", "las", "srtf", "sjf"):
        ts, cs = measure(state, policy, repeats)
        p99[policy] = q(cs, 99)
        tag = "  (target p99 <= 50 ms)" if policy == "ailab" else ""
        print(f"{policy:10} wall p50 {q(ts, 50):6.1f} ms  p99 {q(ts, 99):6.1f} ms"
              f" | CPU p50 {q(cs, 50):6.1f} ms  p99 {q(cs, 99):6.1f} ms{tag}")  # fmt: skip
    ratio = p99["ailab"] / p99["fifo"]
    verdict = "OK" if p99["ailab"] <= 50.0 else "OVER TARGET"
    print(f"ailab CPU p99 {p99['ailab']:.1f} ms = {ratio:.2f}x the fifo baseline; {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
