"""API submissions per second and their p99 latency: 20 concurrent clients, SQLite and PostgreSQL.

A real server (gunicorn, 2 workers x 8 threads) on a fresh database; 20 client threads each
POST /api/v1/jobs (bearer token, a 1-GPU job) as fast as they can for a fixed time. The
baseline in the same run is GET /api/v1/me: the same server, auth and database connection,
but no write, so the ratio says what a submission's transaction costs. No scheduler loop
runs (the jobs stay pending): this measures the API, not the executor.

PostgreSQL: ``postgresql://postgres@127.0.0.1:5432/ailab_bench`` (created and dropped here;
set AILAB_BENCH_PG to use another server). Run: ``.venv/bin/python bench/api_throughput.py
[seconds] [clients]``.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

PG = os.environ.get("AILAB_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/ailab_bench")
SETUP = """
import datetime as dt, django
django.setup()
from django.core.management import call_command
from django.utils import timezone
call_command("migrate", verbosity=0)
from ailab.accounts.services import organisation_create, token_create, user_create
from ailab.compute.services import allocation_grant
staff = user_create(email="bench@lab.test", is_staff=True)
org = organisation_create(actor=staff, name="Bench", kind="startup")
today = timezone.localdate()
allocation_grant(actor=staff, organisation=org, name="bench", gpu_hours=10_000_000,
                 starts_on=today, ends_on=today + dt.timedelta(days=1), members=[staff])
print(token_create(actor=staff, user=staff, name="bench").raw)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_database(create: bool) -> None:
    import psycopg

    admin = PG.rsplit("/", 1)[0] + "/postgres"
    name = PG.rsplit("/", 1)[1]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')


def hammer(
    base: str,
    token: str,
    method: str,
    path: str,
    seconds: float,
    clients: int,
    body: dict[str, object] | None = None,
) -> tuple[int, list[float], int]:
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    stop_at = time.monotonic() + seconds

    def client(i: int) -> None:
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as http:
            while time.monotonic() < stop_at:
                t0 = time.perf_counter()
                r = http.request(method, path, json=body)
                latencies[i].append(time.perf_counter() - t0)
                if r.status_code >= 400:
                    errors[i] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    flat = sorted(x for xs in latencies for x in xs)
    return int(len(flat) / elapsed), flat, sum(errors)


def run(db: str, seconds: float, clients: int) -> bool:
    data = Path(tempfile.mkdtemp(prefix=f"ailab-bench-api-{db}-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AILAB_")}
    url = f"sqlite:///{data / 'bench.sqlite3'}" if db == "sqlite" else PG
    if db == "postgres":
        _pg_database(create=True)
    env.update(
        AILAB_DATA_DIR=str(data),
        AILAB_DATABASE_URL=url,
        AILAB_LOG_LEVEL="WARNING",
        AILAB_SECRET_KEY="bench-only-secret-key",
        AILAB_LOCAL_GPUS="8",
        DJANGO_SETTINGS_MODULE="ailab.config.settings",
    )
    token = (
        subprocess.run(
            [sys.executable, "-c", SETUP], env=env, check=True, capture_output=True, text=True
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    port = _free_port()
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    server = subprocess.Popen(
        [
            gunicorn,
            "ailab.config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "8",
            "--log-level",
            "warning",
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/me", headers={"Authorization": f"Bearer {token}"}).is_success:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        job = {
            "allocation": "bench",
            "command": ["python", "-c", "print(1)"],
            "gpus": 1,
            "time_limit_s": 600,
        }
        read_rps, read_lat, read_err = hammer(base, token, "GET", "/me", seconds, clients)
        rps, lat, err = hammer(base, token, "POST", "/jobs", seconds, clients, job)
    finally:
        server.terminate()
        server.wait(10)
        if db == "postgres":
            _pg_database(create=False)

    def p(xs: list[float], q: float) -> float:
        return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000

    print(
        f"{db:>8}: POST /jobs {rps:6d}/s  p50 {p(lat, 0.5):6.1f} ms  p99 {p(lat, 0.99):7.1f} ms"
        f"  errors {err}  ({len(lat)} jobs)"
    )
    print(
        f"{'':>8}  GET /me   {read_rps:6d}/s  p50 {p(read_lat, 0.5):6.1f} ms"
        f"  p99 {p(read_lat, 0.99):7.1f} ms  errors {read_err}"
    )
    print(
        f"{'':>8}  submissions/s as a share of the read baseline: {rps / max(read_rps, 1):.2f}"
        f"  (median write {statistics.median(lat) / statistics.median(read_lat):.1f}x a read)"
    )
    met = err == 0 and read_err == 0 and rps >= MIN_SUBMITS_PER_S
    print(
        f"{'':>8}  target: no errors, >= {MIN_SUBMITS_PER_S} submissions/s: "
        + ("ok" if met else "MISSED")
    )
    return met


MIN_SUBMITS_PER_S = 10

if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--check"]
    seconds = float(args[0]) if args else 10
    clients = int(args[1]) if len(args) > 1 else 20
    print(
        f"API throughput: {clients} concurrent clients, {seconds:.0f} s per measurement, "
        f"gunicorn 2 workers x 8 threads, {os.cpu_count()} CPUs"
    )
    met = all([run(db, seconds, clients) for db in ("sqlite", "postgres")])
    sys.exit(1 if "--check" in sys.argv and not met else 0)
