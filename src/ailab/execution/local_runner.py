"""The wrapper each local job runs under: ``python -m ailab.execution.local_runner JOBDIR``.

The local backend starts it in a session of its own, so it outlives the worker that started
it. It records itself (pid and process start time) in ``runner.json``, starts the job's
command in a process group of its own (as the job's Unix account in lab mode, with a clean
environment and ``CUDA_VISIBLE_DEVICES`` set, in a working directory and TMPDIR of its own),
enforces the time limit (SIGTERM, grace period, SIGKILL), the CPUs and the memory limit,
obeys a ``stop`` file (``cancel`` or ``preempt``) that the backend writes, kills every
process the job left behind, and only then writes the outcome to ``result.json``
(atomically). A restarted worker reads these files: no exit status is ever lost with the
worker. Nothing the job writes is read back: the files here are the runner's own, in a
directory the job cannot reach in lab mode (see :mod:`ailab.execution.isolation`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from ailab.execution import isolation

TICK_S = 0.05
TREE_EVERY_S = 0.2


def write_json(path: Path, data: dict[str, Any], *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (a reader sees all of it or nothing)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
        if durable:
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as fh:
            data: dict[str, Any] = json.load(fh)
            return data
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def stop_request(jobdir: Path) -> str | None:
    try:
        return (jobdir / "stop").read_text(encoding="utf-8").strip() or "cancel"
    except FileNotFoundError:
        return None


class Runner:
    def __init__(self, jobdir: Path) -> None:
        self.jobdir = jobdir
        spec = read_json(jobdir / "spec.json")
        if spec is None:
            raise SystemExit(f"no spec.json in {jobdir}")
        self.spec = spec
        self.signalled: str | None = None
        self.isolation = str(spec.get("isolation") or isolation.NONE)
        self.work_root = Path(str(spec.get("work_root") or jobdir.parent.parent / "work"))
        self.recorded: tuple[tuple[int, float], ...] = ()
        self.peak_mb = 0

    def _on_signal(self, signum: int, frame: object) -> None:
        self.signalled = "cancel"

    def _account(self) -> isolation.Account | None:
        if self.isolation != isolation.USERS:
            return None
        return isolation.resolve_account(
            str(self.spec.get("user") or ""),
            _int_or_none(self.spec.get("uid")),
            _int_or_none(self.spec.get("gid")),
            create=bool(self.spec.get("create_users")),
            lock_dir=self.jobdir.parent,
        )

    def _prepare(self, account: isolation.Account | None) -> tuple[str, dict[str, str]]:
        """The job's own working directory and TMPDIR (mode 0700, owned by its account) and
        its clean environment."""
        own = self.work_root / str(self.spec["job_id"])
        isolation.make_private_dir(own, account)
        tmp = own / "tmp"
        isolation.make_private_dir(tmp, account)
        workdir = str(self.spec.get("workdir") or own)
        if account is None:
            user, home = isolation.whoami(), os.environ.get("HOME") or str(own)
        else:
            user = account.name
            home = account.home if os.path.isdir(account.home) else str(own)
        extra = {
            "AILAB_JOB_ID": str(self.spec["job_id"]),
            "AILAB_JOB_NAME": str(self.spec.get("name") or ""),
            "AILAB_ALLOCATION": str(self.spec.get("account") or ""),
            "AILAB_GPUS": str(self.spec.get("gpus") or 0),
            "AILAB_CPUS": str(self.spec.get("cpus") or 1),
            "AILAB_WORKDIR": str(own),
        }
        env = isolation.clean_environment(
            {str(k): str(v) for k, v in dict(self.spec.get("env", {})).items()},
            user=user,
            home=home,
            tmpdir=str(tmp),
            gpu_indices=[int(i) for i in self.spec.get("gpu_indices", [])],
            extra=extra,
        )
        return workdir, env

    def _finish(self, state: str, reason: str, exit_code: int | None, started: float) -> None:
        write_json(
            self.jobdir / "result.json",
            {
                "state": state,
                "reason": reason,
                "exit_code": exit_code,
                "started_at": started,
                "ended_at": time.time(),
                "peak_memory_mb": self.peak_mb,
            },
        )

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        isolation.become_subreaper()
        me = psutil.Process()
        started = time.time()
        record: dict[str, Any] = {
            "pid": me.pid,
            "create_time": me.create_time(),
            "started_at": started,
        }
        write_json(self.jobdir / "runner.json", record)
        early = stop_request(self.jobdir)
        if early:
            self._finish(_stopped_state(early), f"{early} before start", None, started)
            return 0
        try:
            account = self._account()
            workdir, env = self._prepare(account)
        except (isolation.IsolationError, OSError) as exc:
            self._finish("failed", f"cannot start: {exc}", None, started)
            return 0
        cpus = isolation.pick_cpus(int(self.spec.get("cpus") or 1), self.jobdir.parent)
        ids: dict[str, Any] = {}
        if account is not None:
            ids = {"user": account.uid, "group": account.gid, "extra_groups": account.groups}
        out = isolation.open_log(self.jobdir / "stdout.log")
        err = isolation.open_log(self.jobdir / "stderr.log")
        try:
            child = subprocess.Popen(
                list(self.spec["command"]),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                process_group=0,
                preexec_fn=_enter(workdir, cpus),
                **ids,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            why = getattr(exc, "strerror", None) or str(exc)
            os.write(err, f"ailab: cannot start the command: {exc}\n".encode())
            self._finish("failed", f"cannot start: {why}", 127, started)
            return 0
        finally:
            os.close(out)
            os.close(err)
        record.update(child_pid=child.pid, child_create_time=_create_time(child.pid))
        write_json(self.jobdir / "runner.json", record)
        return self._supervise(child, started, cpus)

    def _memory_limit_mb(self) -> int | None:
        mem = self.spec.get("memory_mb")
        if isinstance(mem, int) and mem > 0:
            return mem
        per_cpu = self.spec.get("mem_per_cpu_mb")
        if isinstance(per_cpu, int) and per_cpu > 0:
            return per_cpu * int(self.spec.get("cpus") or 1)
        return None

    def _check_tree(self, cpus: frozenset[int], limit_mb: int | None) -> bool:
        """Sample the job's processes; record them for a poller that outlives us; True if
        the job is over its memory limit."""
        sample = isolation.sample_tree(isolation.descendants(os.getpid()), cpus)
        self.peak_mb = max(self.peak_mb, sample.rss_mb)
        if sample.pids != self.recorded:
            self.recorded = sample.pids
            write_json(self.jobdir / "procs.json", {"pids": list(sample.pids)}, durable=False)
        return limit_mb is not None and sample.rss_mb > limit_mb

    def _supervise(
        self, child: subprocess.Popen[bytes], started: float, cpus: frozenset[int]
    ) -> int:
        limit = float(self.spec["time_limit_s"])
        grace = float(self.spec.get("grace_s", 10.0))
        memory_mb = self._memory_limit_mb()
        why: str | None = None
        kill_at: float | None = None
        next_check = 0.0
        while True:
            code = child.poll()
            if code is not None:
                break
            now = time.time()
            isolation.reap_orphans(keep=child.pid)
            if why is None and now >= next_check:
                next_check = now + TREE_EVERY_S
                if self._check_tree(cpus, memory_mb):
                    why = "memory"
                    isolation.kill_tree(os.getpid())  # no grace over the memory limit
                    continue
            if why is None:
                request = stop_request(self.jobdir) or self.signalled
                if request is not None:
                    why = request
                elif now - started >= limit:
                    why = "timeout"
                if why is not None:
                    _signal_group(child.pid, signal.SIGTERM)
                    kill_at = now + grace
            elif kill_at is not None and now >= kill_at:
                _signal_group(child.pid, signal.SIGKILL)
                kill_at = None
            time.sleep(TICK_S)
        # Every process of the job, setsid children included, is gone before the outcome is
        # written: only then may the job's GPUs be given to another.
        _signal_group(child.pid, signal.SIGKILL)
        isolation.kill_tree(os.getpid())
        if why == "memory":
            self._finish(
                "failed",
                f"out of memory: used over {memory_mb} MiB (its memory limit)",
                code,
                started,
            )
        elif why == "timeout":
            self._finish("timeout", f"time limit of {int(limit)} s reached", code, started)
        elif why is not None:
            self._finish(_stopped_state(why), f"{why} requested", code, started)
        elif code == 0:
            self._finish("completed", "exit 0", 0, started)
        elif code < 0:
            self._finish("failed", f"killed by signal {-code}", code, started)
        else:
            self._finish("failed", f"exit {code}", code, started)
        return 0


def _enter(workdir: str, cpus: frozenset[int]) -> Any:
    """Run in the child after it has become the job's user, before exec: its CPUs, then its
    working directory (entered as the user, so a directory it may not enter is refused)."""

    def enter() -> None:
        try:
            os.sched_setaffinity(0, cpus)
            os.chdir(workdir)
        except OSError as exc:
            msg = f"ailab: cannot enter the working directory {workdir}: {exc.strerror}\n"
            os.write(2, msg.encode())
            os._exit(126)

    return enter


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _stopped_state(why: str) -> str:
    return "preempted" if why == "preempt" else "cancelled"


def _create_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m ailab.execution.local_runner JOBDIR", file=sys.stderr)
        return 2
    return Runner(Path(argv[0])).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
