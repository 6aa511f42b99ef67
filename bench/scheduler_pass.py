"""One scheduler pass with 10,000 pending jobs in the database, on SQLite and PostgreSQL.

125 nodes x 8 GPUs, 50 allocations with quotas, 300 running 2-GPU jobs (600 GPUs busy, with
their GPU assignment rows) and 10,000 pending jobs of 1-8 GPUs. A pass is what the loop does
to plan: the snapshot (one transaction), ``plan()`` with the lab's policy, and the guarded
apply (version compare-and-set, status updates, GPU assignment rows, wait reasons for every
pending job). The second pass starts what the first left (its reasons mostly unchanged).

A third pass reaches a fixed point (starts nothing); the idle pass after it shows the
incremental loop: nothing changed, so ``PlanGate`` sees the same
mark and skips the snapshot and the plan. The baseline is the fifo policy's ``plan()`` alone
on the same snapshot. ``--check`` exits non-zero if any pass is over 150 ms.

Run: ``.venv/bin/python bench/scheduler_pass.py [--check]`` (both databases; ``--db sqlite``
for one).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PG = os.environ.get("AILAB_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/ailab_bench")
NODES, GPUS, ALLOCATIONS, RUNNING, PENDING = 125, 8, 50, 300, 10_000
TARGET_MS = 150  # a whole pass, each of them (issue 11)


def _pg_database(create: bool) -> None:
    import psycopg

    admin, name = PG.rsplit("/", 1)[0] + "/postgres", PG.rsplit("/", 1)[1]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')


def populate() -> object:
    import datetime as dt
    import random

    from django.utils import timezone

    from ailab.accounts.services import organisation_create, user_create
    from ailab.compute.models import GpuAssignment, Job, JobStatus, Node
    from ailab.compute.services import allocation_grant, cluster_default

    rng = random.Random(7)
    staff = user_create(email="bench@lab.test", is_staff=True)
    org = organisation_create(actor=staff, name="Bench", kind="startup")
    cluster = cluster_default()
    nodes = Node.objects.bulk_create(
        [Node(cluster=cluster, name=f"n{i:03d}", gpus=GPUS) for i in range(NODES)]
    )
    today = timezone.localdate()
    allocs = [
        allocation_grant(
            actor=staff,
            organisation=org,
            name=f"team-{i:02d}",
            gpu_hours=10_000_000,
            starts_on=today,
            ends_on=today + dt.timedelta(days=30),
            gpu_quota=NODES * GPUS // ALLOCATIONS,
            cluster=cluster,
        )
        for i in range(ALLOCATIONS)
    ]
    now = timezone.now()
    running = []
    for k in range(RUNNING):
        node, base = nodes[k // 4 % NODES], (k % 4) * 2
        running.append(
            Job(
                cluster=cluster,
                allocation=rng.choice(allocs),
                user=staff,
                command=["true"],
                gpus=2,
                time_limit_s=3600,
                status=JobStatus.RUNNING,
                run=1,
                external_id=f"x{k}",
                node=node,
                gpu_indices=[base, base + 1],
                started_at=now,
            )
        )
    running = Job.objects.bulk_create(running)
    GpuAssignment.objects.bulk_create(
        [GpuAssignment(job=j, node=j.node, gpu_index=i) for j in running for i in j.gpu_indices]
    )
    Job.objects.bulk_create(
        [
            Job(
                cluster=cluster,
                allocation=rng.choice(allocs),
                user=staff,
                command=["true"],
                gpus=rng.choice((1, 1, 1, 2, 4, 8)),
                time_limit_s=rng.choice((600, 3600, 86400)),
                reason="queued",
            )
            for _ in range(PENDING)
        ],
        batch_size=2000,
    )
    return cluster


def one_database(db: str) -> None:
    data = Path(tempfile.mkdtemp(prefix=f"ailab-bench-pass-{db}-"))
    os.environ.update(
        AILAB_DATA_DIR=str(data),
        AILAB_SECRET_KEY="bench-only-secret-key",
        AILAB_LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="ailab.config.settings",
        AILAB_DATABASE_URL=f"sqlite:///{data / 'b.sqlite3'}" if db == "sqlite" else PG,
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from ailab.compute.loop import lease_acquire, new_owner
    from ailab.compute.models import Job, JobStatus
    from ailab.compute.scheduler import PlanGate, apply, policy_name, snapshot
    from ailab.scheduling import Capability, plan

    call_command("migrate", verbosity=0)
    cluster = populate()
    owner = new_owner()
    caps = frozenset({Capability.PREEMPT, Capability.GPU_PINNING})
    print(
        f"{db:>8}: {Job.objects.filter(status=JobStatus.PENDING).count()} pending, "
        f"{NODES * GPUS} GPUs, policy {policy_name()}"
    )
    gate = PlanGate()
    misses = []
    fifo = 0.0
    for label in ("first pass", "second pass", "third pass", "idle pass"):
        now = timezone.now()
        lease_acquire(cluster, owner, now)  # type: ignore[arg-type]
        t0 = time.perf_counter()
        mark = gate.due(cluster, now)  # type: ignore[arg-type]
        snap_ms = plan_ms = apply_ms = 0.0
        started = 0
        if mark is not None:
            snap = snapshot(cluster, now, caps)  # type: ignore[arg-type]
            t1 = time.perf_counter()
            decisions = plan(snap.state, policy_name(), now.timestamp())
            t2 = time.perf_counter()
            applied = apply(snap, decisions, owner=owner, now=now)
            t3 = time.perf_counter()
            gate.planned(cluster, mark, applied, now)  # type: ignore[arg-type]
            snap_ms, plan_ms, apply_ms = (t1 - t0) * 1000, (t2 - t1) * 1000, (t3 - t2) * 1000
            started = len(applied.started)
        total = (time.perf_counter() - t0) * 1000
        if mark is not None:
            fifo = min(_timed(plan, snap.state, "fifo", now.timestamp()) for _ in range(3))
        verdict = "ok" if total <= TARGET_MS else f"OVER TARGET ({TARGET_MS} ms)"
        if total > TARGET_MS:
            misses.append(f"{db} {label}")
        print(
            f"{'':>8}  {label}: {total:7.0f} ms  (snapshot {snap_ms:.0f}, plan {plan_ms:.0f}, "
            f"apply {apply_ms:.0f} ms; {started} started{'' if mark else '; nothing changed'}) "
            f" fifo plan() alone {fifo * 1000:.0f} ms  {verdict}"
        )
    if misses and "--check" in sys.argv:
        print(f"missed: {', '.join(misses)}")
        sys.exit(1)


def _timed(fn: Callable[..., object], *args: object) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


if __name__ == "__main__":
    if "--db" in sys.argv:
        one_database(sys.argv[sys.argv.index("--db") + 1])
        sys.exit(0)
    failed = False
    print(f"One scheduler pass: {PENDING:,} pending jobs in the database ({os.cpu_count()} CPUs)")
    for db in ("sqlite", "postgres"):
        if db == "postgres":
            _pg_database(create=True)
        try:
            extra = ["--check"] if "--check" in sys.argv else []
            failed |= subprocess.run([sys.executable, __file__, "--db", db, *extra]).returncode != 0
        finally:
            if db == "postgres":
                _pg_database(create=False)
    sys.exit(1 if failed else 0)
