"""Crash safety: kill -9 the worker at random points and restart it, repeatedly.

The worker runs as a real process (``ailab worker``) on a database file of its own, so the
test can kill it without touching the test database. Every job's command logs its start and
end with its CUDA_VISIBLE_DEVICES; afterwards: every job ran exactly once and completed, no
GPU was held by two jobs at the same time, and each run was charged exactly once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ailab.compute.loop import Loop
from ailab.compute.models import GpuAssignment, Job, JobStatus, Usage
from ailab.compute.services import job_submit
from tests import unix
from tests.compute.conftest import Lab, drive, status_of

SETUP = """
import datetime as dt, django, json, os
os.environ["DJANGO_SETTINGS_MODULE"] = "ailab.config.settings"
django.setup()
from ailab.accounts.posix import posix_account_set
from ailab.accounts.services import organisation_create, user_create
from ailab.compute.services import allocation_grant, job_submit
staff = user_create(email="staff@lab.test", is_staff=True)
people = []
for n, (name, uid, gid) in enumerate(json.loads(os.environ["CRASH_ACCOUNTS"])):
    person = user_create(email=f"person{n}@lab.test")
    posix_account_set(actor=staff, user=person, username=name, uid=uid, gid=gid)
    people.append(person)
org = organisation_create(actor=staff, name="Org", kind="startup")
today = dt.date.today()
a = allocation_grant(actor=staff, organisation=org, name="crash", gpu_hours=100,
    starts_on=today, ends_on=today + dt.timedelta(days=1), members=people)
log = os.environ["CRASH_LOG"]
for n in range(JOBS):
    seconds = 0.3 + (n % 4) * 0.3
    stamp = '"$AILAB_JOB_ID $CUDA_VISIBLE_DEVICES $(id -un) $(date +%s.%N)'
    script = f'echo {stamp} start" >> {log}; sleep {seconds}; echo {stamp} end" >> {log}'
    job_submit(actor=people[n % 2], allocation=a, command=["sh", "-c", script],
               gpus=1 + n % 2, time_limit_s=60, name=f"crash-{n}")
"""
JOBS = 12


def _database(tmp_path: Path) -> Iterator[tuple[str, Callable[[str], list[tuple[Any, ...]]]]]:
    """The worker's own database: PostgreSQL when the test run uses it, else a SQLite file."""
    pg = os.environ.get("AILAB_TEST_DATABASE_URL", "")
    if not pg.startswith("postgres"):
        path = tmp_path / "crash.sqlite3"

        def query_sqlite(sql: str) -> list[tuple[Any, ...]]:
            with sqlite3.connect(path) as conn:
                return conn.execute(sql).fetchall()

        yield f"sqlite:///{path}", query_sqlite
        return
    import psycopg

    name = f"ailab_crash_{os.getpid()}"
    admin = pg.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = pg.rsplit("/", 1)[0] + f"/{name}"

    def query_pg(sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(url) as conn:
            return conn.execute(sql).fetchall()  # type: ignore[arg-type]

    try:
        yield url, query_pg
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _env(tmp_path: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AILAB_", "PYTEST"))}
    accounts = [unix.account(f"ailabt-crash{n}-{unix.worker_suffix()}") for n in (0, 1)]
    env.update(
        AILAB_JOB_ROOT=str(unix.job_root() / f"crash-{tmp_path.name}"),
        AILAB_LOCAL_CREATE_USERS="1",
        CRASH_ACCOUNTS=json.dumps(accounts),
        AILAB_DEBUG="1",
        AILAB_DATABASE_URL=url,
        AILAB_DATA_DIR=str(tmp_path / "data"),
        AILAB_LOCAL_GPUS="4",
        AILAB_LOCAL_NODE="node-a",
        AILAB_LOCAL_GRACE_S="1",
        AILAB_SCHEDULER_LEASE_S="1",
        AILAB_LOG_LEVEL="WARNING",
        CRASH_LOG=str(unix.open_dir(f"crash-log-{tmp_path.name}") / "runs.log"),
    )
    return env


def _python(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, *args], env=env, check=True, timeout=300)


def _wait_until_serving(
    worker: subprocess.Popen[bytes], query: Callable[[str], list[tuple[Any, ...]]]
) -> None:
    """Until the worker holds the cluster's lease (its owner id carries the worker's pid)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and worker.poll() is None:
        owners = [o for (o,) in query("select owner from compute_schedulerlease")]
        if any(f":{worker.pid}:" in o for o in owners):
            return
        time.sleep(0.05)
    raise AssertionError("the worker did not take the lease within 30 s")


@pytest.fixture
def worker_db(tmp_path: Path) -> Iterator[tuple[str, Callable[[str], list[tuple[Any, ...]]]]]:
    yield from _database(tmp_path)


@pytest.mark.slow
def test_kill_9_the_worker_repeatedly(
    tmp_path: Path, worker_db: tuple[str, Callable[[str], list[tuple[Any, ...]]]]
) -> None:
    """Kill -9 the worker at random moments while jobs of two Unix users run and restart it:
    no job lost or run twice, each ran as its owner, no GPU double-booked, and each run
    charged exactly once, its GPUs x the runner-recorded seconds (within 2 s)."""
    url, query = worker_db
    env = _env(tmp_path, url)
    Path(env["CRASH_LOG"]).touch(mode=0o666)  # both users' jobs append to it
    os.chmod(env["CRASH_LOG"], 0o666)
    _python(env, "-m", "ailab.cli", "migrate", "--no-input", "-v", "0")
    _python(env, "-c", SETUP.replace("JOBS", str(JOBS)))
    rng = random.Random(4)
    kills = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        worker = subprocess.Popen(
            [sys.executable, "-m", "ailab.cli", "worker", "--interval", "0.1"],
            env=env,
        )
        _wait_until_serving(worker, query)  # on a loaded machine, start-up alone takes a while
        time.sleep(rng.uniform(0.3, 1.6))
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        kills += 1
        ((open_jobs,),) = query(
            "select count(*) from compute_job where status in ('pending', 'running')"
        )
        if not open_jobs:
            break
    assert kills >= 3
    # Then a worker left alone finishes what is left and records it (bounded).
    final = subprocess.Popen([sys.executable, "-m", "ailab.cli", "worker", "--interval", "0.1"],
                             env=env)  # fmt: skip
    try:
        finish_by = time.monotonic() + 60
        while time.monotonic() < finish_by:
            ((open_jobs,),) = query(
                "select count(*) from compute_job where status in ('pending', 'running')"
            )
            if not open_jobs:
                break
            time.sleep(0.2)
    finally:
        final.terminate()
        final.wait(30)
    statuses = dict(query("select id, status from compute_job"))
    assert set(statuses.values()) == {"completed"}, statuses
    lines = Path(env["CRASH_LOG"]).read_text().split("\n")
    starts = [ln.split() for ln in lines if ln.endswith(" start")]
    ends = {ln.split()[0]: float(ln.split()[-2]) for ln in lines if ln.endswith(" end")}
    runs = [s[0] for s in starts]
    assert sorted(runs) == sorted(f"{i}.1" for i in statuses), "each job ran exactly once"
    owners = dict(query("select j.id, p.username from compute_job j join accounts_posixaccount"
                        " p on p.user_id = j.user_id"))  # fmt: skip
    if unix.IS_ROOT:
        assert {s[0]: s[2] for s in starts} == {f"{i}.1": owners[i] for i in statuses}
        assert len(set(owners.values())) == 2
    intervals = [(float(s[3]), ends[s[0]], set(s[1].split(","))) for s in starts]
    for i, (a0, a1, ga) in enumerate(intervals):
        for b0, b1, gb in intervals[i + 1 :]:
            if ga & gb:
                assert a1 <= b0 or b1 <= a0, "a GPU was held by two jobs at once"
    charged = {k: (g, n) for k, g, n in query("select key, gpu_seconds, gpus from compute_usage")}
    assert sorted(charged) == sorted(f"job:{i}:run:1" for i in statuses)
    for i in statuses:
        result = json.loads((Path(env["AILAB_DATA_DIR"]) / "jobs" / f"{i}.1" / "result.json")
                            .read_text())  # fmt: skip
        seconds, gpus = result["ended_at"] - result["started_at"], charged[f"job:{i}:run:1"][1]
        assert abs(charged[f"job:{i}:run:1"][0] - gpus * seconds) <= 2 * gpus, (i, result)
    ((held,),) = query("select count(*) from compute_gpuassignment")
    assert held == 0


@pytest.mark.django_db(transaction=True)
def test_crash_between_start_and_submit_runs_the_job_once(lab: Lab) -> None:
    """A loop that dies after committing a start but before the backend call: the next loop
    submits it (same run id), and it runs once."""
    job = job_submit(
        actor=lab.member, allocation=lab.allocation, command=["true"], gpus=1, time_limit_s=60
    )
    first = Loop()
    first.submit = lambda job, backend: None  # type: ignore[method-assign]  # dies here
    first.run_pass()
    assert status_of(job) == JobStatus.RUNNING
    assert job.external_id == ""
    second = Loop(owner=first.owner)  # took over the lease
    drive(second, lambda: status_of(job) == JobStatus.COMPLETED)
    assert job.run == 1
    assert Usage.objects.filter(job=job).count() == 1
    assert GpuAssignment.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_resubmitting_a_run_does_not_start_it_twice(lab: Lab, compute_env: Path) -> None:
    """A crash after the backend call but before recording its id: submitting again returns
    the same id and starts nothing new (the launch lock)."""
    counter = unix.open_dir(f"count-{compute_env.parent.name}") / "count"
    job = job_submit(
        actor=lab.member,
        allocation=lab.allocation,
        command=["sh", "-c", f"echo x >> {counter}"],
        gpus=1,
        time_limit_s=60,
    )
    loop = Loop()
    loop.run_pass()
    job.refresh_from_db()
    Job.objects.filter(pk=job.pk).update(external_id="")  # the id was never recorded
    drive(Loop(owner=loop.owner), lambda: status_of(job) == JobStatus.COMPLETED)
    assert counter.read_text() == "x\n"
    assert Usage.objects.filter(job=job).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_runner_killed_without_a_result_is_marked_lost(lab: Lab, compute_env: Path) -> None:
    """If the job's runner itself is killed (no exit status recorded), the job fails with a
    'lost' reason and its GPUs are freed; the time it ran is still charged once."""
    job = job_submit(
        actor=lab.member,
        allocation=lab.allocation,
        command=["sleep", "30"],
        gpus=2,
        time_limit_s=60,
    )
    loop = Loop()
    drive(loop, lambda: status_of(job) == JobStatus.RUNNING and bool(job.external_id))
    runner = compute_env / "jobs" / job.external_id / "runner.json"
    deadline = time.monotonic() + 10
    while not runner.exists() and time.monotonic() < deadline:
        time.sleep(0.05)

    os.kill(json.loads(runner.read_text())["pid"], signal.SIGKILL)
    drive(loop, lambda: status_of(job) == JobStatus.FAILED)
    assert job.reason.startswith("lost")
    assert GpuAssignment.objects.count() == 0
    assert Usage.objects.filter(job=job).count() == 1
