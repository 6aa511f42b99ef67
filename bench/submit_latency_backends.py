"""Submit -> running on an idle cluster, bare backends side by side: local and Slurm.

For each backend, N times: ``submit`` a 1-GPU ``sleep`` job, poll every 20 ms until the
backend reports it RUNNING (the wall time from calling ``submit`` to that poll is the
figure), then cancel it and wait until it has ended (for Slurm, until the node is idle again), so
every job meets an idle cluster.
Prints the median, min and max per backend and the ratio Slurm / local.

Slurm is the development cluster (``scripts/slurm-dev-cluster.sh start``); the bench uses an
account ``ailabbench`` under the lab root account, created if missing. Without the cluster
it measures the local backend only and says why.

Run: ``.venv/bin/python bench/submit_latency_backends.py [jobs]`` (default 10).
"""

from __future__ import annotations

import os
import pwd
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from ailab.execution.base import Backend, JobSpec, State
from ailab.execution.local import LocalBackend
from ailab.execution.slurm import SlurmBackend
from ailab.execution.slurm_accounts import Account, Limits, Sacctmgr
from ailab.execution.slurm_commands import SlurmCommands

ROOT = Path(__file__).resolve().parents[1]
BENCH_ACCOUNT = "ailabbench"
POLL_S = 0.02


def wait(backend: Backend, jid: str, done: Callable[[State], bool], timeout: float) -> State:
    deadline = time.monotonic() + timeout
    while True:
        state = backend.poll([jid])[jid].state
        if done(state) or time.monotonic() > deadline:
            return state
        time.sleep(POLL_S)


def measure(
    backend: Backend,
    make_spec: Callable[[str], JobSpec],
    n: int,
    settle: Callable[[], None] = lambda: None,
) -> list[float]:
    samples = []
    for _ in range(n):
        settle()
        spec = make_spec(f"bench-{uuid.uuid4().hex[:12]}")
        t0 = time.perf_counter()
        jid = backend.submit(spec)
        state = wait(backend, jid, lambda s: s is not State.PENDING, timeout=60)
        elapsed = time.perf_counter() - t0
        if state is not State.RUNNING:
            raise SystemExit(f"{backend.name}: job {jid} ended {state} instead of running")
        samples.append(elapsed)
        backend.cancel(jid)
        wait(backend, jid, lambda s: s.finished, timeout=60)
    return samples


def slurm_idle() -> None:
    """Until the node is idle again (a cancelled job stays COMPLETING for a moment)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = subprocess.run(
            ["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, check=False
        ).stdout.split()
        if state and all(s == "idle" for s in state):
            return
        time.sleep(POLL_S)


def slurm_up() -> str:
    """'' when the development cluster answers, else why not."""
    if shutil.which("sinfo") is None:
        return "Slurm is not installed here"
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "slurm-dev-cluster.sh"), "status"],
        capture_output=True,
        text=True,
        check=False,
    )
    return "" if done.returncode == 0 else done.stdout.strip().replace("\n", "; ")


def main() -> bool:
    args = [a for a in sys.argv[1:] if a != "--check"]
    n = int(args[0]) if args else 10
    data = Path(tempfile.mkdtemp(prefix="ailab-bench-backends-"))
    data.chmod(0o755)
    results: dict[str, list[float]] = {}

    local = LocalBackend.from_env(
        {"AILAB_DATA_DIR": str(data), "AILAB_LOCAL_GPUS": "8", "AILAB_LOCAL_GRACE_S": "1"}
    )
    node = local.nodes()[0].name

    from bench_accounts import bench_account

    user, uid, gid = bench_account()

    def local_spec(job_id: str) -> JobSpec:
        return JobSpec(
            job_id, job_id, ("sleep", "30"), 1, 120, node=node, gpu_indices=(0,),
            user=user, uid=uid, gid=gid,
        )  # fmt: skip

    results["local"] = measure(local, local_spec, n)

    why_not = slurm_up()
    if not why_not:
        user = pwd.getpwuid(os.getuid()).pw_name
        tool = Sacctmgr(SlurmCommands(), cluster="ailab", root="ailab")
        tool.ensure_root()
        if BENCH_ACCOUNT not in tool.tree():
            tool.add_account(Account(BENCH_ACCOUNT, "ailab", Limits(fairshare=100)))
        tool.add_users(BENCH_ACCOUNT, {user})
        slurm = SlurmBackend(submit_as="service")  # the bare backend, as the bench's own user

        def slurm_spec(job_id: str) -> JobSpec:
            return JobSpec(
                job_id, job_id, ("sleep", "30"), 1, 120, account=BENCH_ACCOUNT,
                workdir=str(data), stdout_path="/dev/null", stderr_path="/dev/null",
            )  # fmt: skip

        results["slurm"] = measure(slurm, slurm_spec, n, settle=slurm_idle)

    print(f"submit -> running on an idle cluster, {n} jobs per backend (1 GPU, bare backend)")
    print(f"{'backend':<8} {'median':>10} {'min':>10} {'max':>10}")
    for name, samples in results.items():
        print(
            f"{name:<8} {statistics.median(samples) * 1000:>8.0f}ms "
            f"{min(samples) * 1000:>8.0f}ms {max(samples) * 1000:>8.0f}ms"
        )
    if "slurm" in results:
        ratio = statistics.median(results["slurm"]) / statistics.median(results["local"])
        print(f"ratio slurm/local (median): {ratio:.1f}x")
    else:
        print(f"slurm: not measured ({why_not}); start it: scripts/slurm-dev-cluster.sh start")
    shutil.rmtree(data, ignore_errors=True)
    misses = [
        f"{name} median over {TARGETS_MS[name]} ms"
        for name, samples in results.items()
        if statistics.median(samples) * 1000 > TARGETS_MS[name]
    ]
    print("targets: " + (", ".join(misses) if misses else "met"))
    return not misses


TARGETS_MS = {"local": 500, "slurm": 5000}  # submit -> running, median, idle cluster

if __name__ == "__main__":
    sys.exit(1 if not main() and "--check" in sys.argv else 0)
