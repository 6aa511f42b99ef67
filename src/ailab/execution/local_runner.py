"""The wrapper each local job runs under: ``python -m ailab.execution.local_runner JOBDIR``.

The local backend starts it in a session of its own, so it outlives the worker that started
it. It records itself (pid and process start time) in ``runner.json``, starts the job's
command in a process group of its own with ``CUDA_VISIBLE_DEVICES`` set, enforces the time
limit (SIGTERM, grace period, SIGKILL), obeys a ``stop`` file (``cancel`` or ``preempt``)
that the backend writes, and writes the outcome to ``result.json`` (atomically) before it
exits. A restarted worker reads these files: no exit status is ever lost with the worker.
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

TICK_S = 0.05


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` atomically (a reader sees all of it or nothing)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
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

    def _on_signal(self, signum: int, frame: object) -> None:
        self.signalled = "cancel"

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({str(k): str(v) for k, v in dict(self.spec.get("env", {})).items()})
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in self.spec.get("gpu_indices", []))
        env["AILAB_JOB_ID"] = str(self.spec["job_id"])
        return env

    def _finish(self, state: str, reason: str, exit_code: int | None, started: float) -> None:
        write_json(
            self.jobdir / "result.json",
            {
                "state": state,
                "reason": reason,
                "exit_code": exit_code,
                "started_at": started,
                "ended_at": time.time(),
            },
        )

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
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
        out_path = self.spec.get("stdout_path") or str(self.jobdir / "stdout.log")
        err_path = self.spec.get("stderr_path") or str(self.jobdir / "stderr.log")
        workdir = self.spec.get("workdir") or str(self.jobdir)
        with open(out_path, "ab") as out, open(err_path, "ab") as err:
            try:
                child = subprocess.Popen(
                    list(self.spec["command"]),
                    cwd=workdir,
                    env=self._env(),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    process_group=0,
                )
            except OSError as exc:
                err.write(f"ailab: cannot start the command: {exc}\n".encode())
                self._finish("failed", f"cannot start: {exc.strerror or exc}", 127, started)
                return 0
        record.update(child_pid=child.pid, child_create_time=_create_time(child.pid))
        write_json(self.jobdir / "runner.json", record)
        return self._supervise(child, started)

    def _supervise(self, child: subprocess.Popen[bytes], started: float) -> int:
        limit = float(self.spec["time_limit_s"])
        grace = float(self.spec.get("grace_s", 10.0))
        why: str | None = None
        kill_at: float | None = None
        while True:
            code = child.poll()
            if code is not None:
                break
            now = time.time()
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
        _signal_group(child.pid, signal.SIGKILL)  # stragglers the command left behind
        if why == "timeout":
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
