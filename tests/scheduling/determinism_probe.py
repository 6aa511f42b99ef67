"""Run by ``test_determinism.py`` in fresh interpreters: prints a digest of plans and replays.

Identifiers are strings of mixed shapes (so that any ordering that leaks from ``str`` hashing,
such as iterating a set of ids, changes the output under another ``PYTHONHASHSEED``).
"""

from __future__ import annotations

import hashlib
import random

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
from ailab.scheduling.metrics import compute_metrics
from ailab.scheduling.policies import POLICIES
from ailab.scheduling.simulator import simulate
from ailab.scheduling.traces import Workload

TENANTS = ("vc-alpha", "b", "zeta9", "Q")


def _state(rng: random.Random, mode: Mode) -> ClusterState:
    nodes = tuple(Node(f"node-{rng.randrange(10**6)}-{i}", 8, TENANTS[i % 4]) for i in range(12))
    tenants = tuple(Tenant(t, 24) for t in TENANTS)
    running = []
    for i, n in enumerate(nodes[:7]):
        g = rng.choice((2, 4, 8))
        job = Job(f"run{i}-{rng.random():.6f}", TENANTS[i % 4], g, 0.0, estimate=500.0)
        running.append(RunningJob(job, Placement((Slot(n.id, tuple(range(g))),)), 1.0))
    pending = tuple(
        Job(
            f"job/{rng.randrange(10**9)}/{i}",
            rng.choice(TENANTS),
            rng.choice((1, 1, 2, 4, 8, 16)),
            float(rng.randrange(100)),
            user=f"user{rng.randrange(5)}",
            name=rng.choice(("train", "eval", "sweep")),
            duration=float(rng.randrange(10, 5000)),
        )
        for i in range(80)
    )
    return ClusterState(nodes, tenants, tuple(running), pending, mode=mode)


def _workload(rng: random.Random) -> Workload:
    nodes = tuple(Node(f"m{rng.randrange(10**6)}-{i}", 8, TENANTS[i % 4]) for i in range(6))
    jobs = tuple(
        sorted(
            (
                Job(
                    f"w{rng.randrange(10**9)}-{i}",
                    rng.choice(TENANTS),
                    rng.choice((1, 2, 4, 8, 16)),
                    float(rng.randrange(20_000)),
                    user=f"u{rng.randrange(6)}",
                    name=rng.choice(("a", "bb", "ccc")),
                    duration=float(rng.randrange(1, 30_000)),
                )
                for i in range(150)
            ),
            key=lambda j: j.submit_time,
        )
    )
    return Workload(jobs, nodes, tuple(Tenant(t, 12) for t in TENANTS))


def digest() -> str:
    h = hashlib.sha256()
    rng = random.Random(2026)
    states = [_state(rng, Mode.SHARED), _state(rng, Mode.PARTITIONED)]
    wl = _workload(rng)
    for name in sorted(POLICIES):
        for state in states:
            h.update(repr(plan(state, name, 200.0)).encode())
        for mode in (Mode.PARTITIONED, Mode.SHARED):
            result = simulate(wl, name, mode=mode)
            h.update(repr(sorted(result.records, key=lambda r: r.job_id)).encode())
            h.update(repr(compute_metrics(result).as_dict()).encode())
    return h.hexdigest()


if __name__ == "__main__":
    print(digest())
