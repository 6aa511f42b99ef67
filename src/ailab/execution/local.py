"""The local backend: each job a process group on this machine, GPUs pinned by index.

Control files, under ``<data dir>/jobs/<job id>/`` (the data directory is
``AILAB_DATA_DIR``), private to the server in lab mode (:mod:`ailab.execution.isolation`):

- ``spec.json``      the JobSpec, written by ``submit`` before anything starts
- ``launch.lock``    created exclusively just before the runner is started: one start per id
- ``launched.json``  the runner's pid and process start time, written by ``submit``
- ``runner.json``    the same, written by the runner itself, plus the command's pid
- ``stop``           ``cancel`` or ``preempt``: the runner stops the command (SIGTERM, grace,
                     SIGKILL) and records why
- ``result.json``    the outcome, written atomically by the runner before it exits
- ``procs.json``     the job's live processes, so a poller can kill them if the runner is lost
- ``stdout.log``, ``stderr.log``: opened by the runner without following symlinks and
                     handed to the job as its output; their paths are derived here, never
                     read from anything a job can write

The job's own working directory and TMPDIR are ``<work root>/<job id>/`` and its ``tmp/``
(``AILAB_JOB_ROOT``, default ``<data dir>/work``), owned by the job's Unix account, mode 0700.

Each job runs under :mod:`ailab.execution.local_runner`, started in a session of its own so
that it outlives the worker. A restarted worker (or another process: the web server cancels
through the same files) reads the state back from these files; a process is recognised by
its pid *and* its start time, so a recycled pid is never mistaken for the job. A runner that
is gone without a ``result.json`` is reported ``LOST`` with the reason.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

import psutil

from ailab.execution import gpus as gpu_discovery
from ailab.execution import isolation
from ailab.execution.base import BackendError, Capability, JobSpec, NodeInfo, State, Status
from ailab.execution.local_runner import read_json, write_json

STARTING_GRACE_S = 30.0
log = logging.getLogger(__name__)
_warned_single_user = False
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def _utc(ts: float | None) -> dt.datetime | None:
    return None if ts is None else dt.datetime.fromtimestamp(float(ts), tz=dt.UTC)


def _alive(pid: int | None, create_time: float | None) -> bool:
    """True if ``pid`` runs and is the process that started at ``create_time``."""
    if not pid or create_time is None:
        return False
    try:
        proc = psutil.Process(int(pid))
        if abs(proc.create_time() - float(create_time)) > 0.05:
            return False  # the pid was recycled: not our process
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class LocalBackend:
    name = "local"
    capabilities = frozenset({Capability.PREEMPT, Capability.GPU_PINNING})

    def __init__(
        self,
        data_dir: Path | str,
        *,
        gpus: Sequence[gpu_discovery.Gpu] | None = None,
        node_name: str | None = None,
        grace_s: float = 10.0,
        python: str | None = None,
        isolation_mode: str | None = None,
        work_root: Path | str | None = None,
        create_users: bool = False,
        mem_per_cpu_mb: int | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.jobs_dir = self.data_dir / "jobs"
        self.isolation = isolation_mode or isolation.mode_from_env()
        self.work_root = Path(work_root) if work_root else self.data_dir / "work"
        self.create_users = create_users
        self.mem_per_cpu_mb = mem_per_cpu_mb
        if self.isolation == isolation.USERS:
            isolation.secure_data_dir(self.data_dir, self.work_root)
        else:
            self.work_root.mkdir(parents=True, exist_ok=True)
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.jobs_dir, 0o700)
        self.gpus = list(gpu_discovery.discover() if gpus is None else gpus)
        self.node_name = node_name or socket.gethostname().split(".")[0] or "localhost"
        self.grace_s = grace_s
        self.python = python or sys.executable
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LocalBackend:
        """Configured from ``AILAB_DATA_DIR``, ``AILAB_LOCAL_GPUS``, ``AILAB_LOCAL_NODE``,
        ``AILAB_LOCAL_GRACE_S`` (seconds between SIGTERM and SIGKILL, default 10),
        ``AILAB_LOCAL_ISOLATION`` (``users`` or ``none``; default ``users`` as root),
        ``AILAB_JOB_ROOT`` (the jobs' working directories), ``AILAB_LOCAL_CREATE_USERS=1``
        (make missing Unix accounts with useradd) and ``AILAB_LOCAL_MEM_PER_CPU_MB`` (the
        memory limit of a job that asks for none; default: no limit)."""
        global _warned_single_user
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("AILAB_DATA_DIR", "") or "var").resolve()
        grace = float(env.get("AILAB_LOCAL_GRACE_S", "") or 10.0)
        mode = isolation.mode_from_env(env)
        if mode == isolation.NONE and not _warned_single_user:
            _warned_single_user = True
            log.warning(
                "local backend in single-user mode: jobs run as %s and are NOT isolated from "
                "each other or from this server's files (run ailab as root for lab mode)",
                isolation.whoami(),
            )
        per_cpu = env.get("AILAB_LOCAL_MEM_PER_CPU_MB", "")
        return cls(
            data_dir,
            gpus=gpu_discovery.discover(env),
            node_name=env.get("AILAB_LOCAL_NODE") or None,
            grace_s=grace,
            isolation_mode=mode,
            work_root=env.get("AILAB_JOB_ROOT") or None,
            create_users=env.get("AILAB_LOCAL_CREATE_USERS", "") in ("1", "true", "yes"),
            mem_per_cpu_mb=int(per_cpu) if per_cpu.isdigit() else None,
        )

    @classmethod
    def isolated_from_env(cls, environ: Mapping[str, str] | None = None) -> bool:
        return isolation.mode_from_env(environ) == isolation.USERS

    @property
    def isolated(self) -> bool:
        """Whether jobs run as their owners' Unix accounts (lab mode)."""
        return self.isolation == isolation.USERS

    # Inventory -----------------------------------------------------------

    def nodes(self) -> list[NodeInfo]:
        """This machine, with the GPUs discovered (or declared) when the backend was built."""
        model = self.gpus[0].name if self.gpus else ""
        memory = self.gpus[0].memory_mb if self.gpus else None
        return [
            NodeInfo(
                name=self.node_name,
                gpus=len(self.gpus),
                gpu_model=model,
                gpu_memory_mb=memory,
                cpus=os.cpu_count(),
                memory_mb=psutil.virtual_memory().total // (1024 * 1024),
            )
        ]

    # The protocol ---------------------------------------------------------

    def _dir(self, job_id: str) -> Path:
        if not _SAFE_ID.match(job_id):
            raise BackendError(f"local: job id {job_id!r} is not a safe file name")
        return self.jobs_dir / job_id

    def submit(self, spec: JobSpec) -> str:
        """Start the job's runner and return at once; the id is ``spec.job_id``.

        Idempotent: the runner is started only by the caller that creates ``launch.lock``.
        """
        jobdir = self._dir(spec.job_id)
        bad = [i for i in spec.gpu_indices if not 0 <= i < len(self.gpus)]
        if bad or (len(spec.gpu_indices) != spec.gpus and spec.gpu_indices):
            raise BackendError(f"local: GPU indices {list(spec.gpu_indices)} do not fit this node")
        if spec.gpus and not spec.gpu_indices:
            raise BackendError("local: a GPU job needs gpu_indices (GPU_PINNING)")
        if not spec.command:
            raise BackendError("local: empty command")
        if self.isolation == isolation.USERS and (not spec.user or spec.uid is None):
            raise BackendError(
                "local: the job has no Unix account; in lab mode jobs run only as their "
                "owner's account (ask lab staff to assign one)"
            )
        jobdir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not (jobdir / "spec.json").exists():
            data = asdict(spec)
            data.update(
                env=dict(spec.env),
                grace_s=self.grace_s,
                isolation=self.isolation,
                work_root=str(self.work_root),
                create_users=self.create_users,
                mem_per_cpu_mb=self.mem_per_cpu_mb,
            )
            write_json(jobdir / "spec.json", data)
        if not self._take_launch_lock(jobdir):
            return spec.job_id
        try:
            with open(jobdir / "runner.log", "ab") as log:
                proc = subprocess.Popen(
                    [self.python, "-m", "ailab.execution.local_runner", str(jobdir)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                    close_fds=True,
                )
        except OSError as exc:
            write_json(
                jobdir / "result.json",
                {
                    "state": "failed",
                    "reason": f"cannot start runner: {exc}",
                    "exit_code": None,
                    "started_at": None,
                    "ended_at": time.time(),
                },
            )
            return spec.job_id
        self._children[spec.job_id] = proc
        ctime = None
        with contextlib.suppress(psutil.Error):
            ctime = psutil.Process(proc.pid).create_time()
        write_json(jobdir / "launched.json", {"pid": proc.pid, "create_time": ctime})
        return spec.job_id

    def _take_launch_lock(self, jobdir: Path) -> bool:
        """Only the caller that creates ``launch.lock`` starts the runner. A lock left by a
        caller that died before starting it (no launched.json, no runner.json, older than
        the starting grace) is taken over, so such a job is started rather than lost."""
        lock = jobdir / "launch.lock"
        for _ in range(2):
            try:
                os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
                return True
            except FileExistsError:
                started = (jobdir / "launched.json").exists() or (jobdir / "runner.json").exists()
                try:
                    age = time.time() - lock.stat().st_mtime
                except FileNotFoundError:
                    continue
                if started or age < STARTING_GRACE_S:
                    return False
                lock.unlink(missing_ok=True)
        return False

    def _reap(self) -> None:
        for job_id, proc in list(self._children.items()):
            if proc.poll() is not None:
                del self._children[job_id]

    def poll(self, external_ids: Sequence[str]) -> dict[str, Status]:
        """Read each job's files; a runner gone without a result is LOST (and its command,
        if it survived, is killed so its GPUs are free)."""
        self._reap()
        return {eid: self._status(eid) for eid in external_ids}

    def _status(self, eid: str) -> Status:
        try:
            jobdir = self._dir(eid)
        except BackendError as exc:
            return Status(eid, State.LOST, reason=str(exc))
        if not jobdir.is_dir():
            return Status(eid, State.LOST, reason="unknown to the local backend")
        result = read_json(jobdir / "result.json")
        if result is not None:
            return _from_result(eid, result)
        runner = read_json(jobdir / "runner.json")
        if runner is not None:
            if _alive(runner.get("pid"), runner.get("create_time")):
                return Status(
                    eid,
                    State.RUNNING,
                    started_at=_utc(runner.get("started_at")),
                    node=self.node_name,
                )
            result = read_json(jobdir / "result.json")  # it may have just finished
            if result is not None:
                return _from_result(eid, result)
            self._kill_orphan(jobdir, runner)
            return Status(
                eid,
                State.LOST,
                node=self.node_name,
                reason=f"runner (pid {runner.get('pid')}) gone without an exit status",
                started_at=_utc(runner.get("started_at")),
            )
        launched = read_json(jobdir / "launched.json")
        if launched is not None and _alive(launched.get("pid"), launched.get("create_time")):
            return Status(eid, State.PENDING, reason="starting")
        if read_json(jobdir / "result.json") is None and not (jobdir / "runner.json").exists():
            age = time.time() - jobdir.stat().st_mtime
            if age < STARTING_GRACE_S and launched is None:
                return Status(eid, State.PENDING, reason="starting")
            if launched is None:
                # A submit that died between taking the launch lock and starting the runner:
                # start it now (the stale lock is taken over), so the job is not lost.
                spec = _spec_from(read_json(jobdir / "spec.json"))
                if spec is not None:
                    self.submit(spec)
                    return Status(eid, State.PENDING, reason="starting (launch resumed)")
            return Status(eid, State.LOST, reason="runner never started")
        return self._status(eid)

    def _kill_orphan(self, jobdir: Path, runner: Mapping[str, object]) -> None:
        """The runner is gone: kill what is left of the job (its process group and every
        process the runner last recorded, with their descendants)."""
        pid, ctime = runner.get("child_pid"), runner.get("child_create_time")
        if isinstance(pid, int) and isinstance(ctime, float) and _alive(pid, ctime):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, 9)
        procs = read_json(jobdir / "procs.json") or {}
        recorded = [
            (int(p[0]), float(p[1]))
            for p in procs.get("pids", [])
            if isinstance(p, list) and len(p) == 2
        ]
        isolation.kill_recorded(recorded)

    def _request_stop(self, external_id: str, why: str) -> None:
        try:
            jobdir = self._dir(external_id)
        except BackendError:
            return
        if not jobdir.is_dir() or (jobdir / "result.json").exists():
            return
        current = None
        with contextlib.suppress(FileNotFoundError):
            current = (jobdir / "stop").read_text(encoding="utf-8").strip()
        if current == why or current == "cancel":
            return
        tmp = jobdir / f".stop.{os.getpid()}.tmp"
        tmp.write_text(why, encoding="utf-8")
        os.replace(tmp, jobdir / "stop")

    def cancel(self, external_id: str) -> None:
        """Ask the runner to stop the job; idempotent, returns at once. Unknown or finished
        jobs are left alone."""
        self._request_stop(external_id, "cancel")

    def preempt(self, external_id: str) -> None:
        """Stop the job (SIGTERM, grace, SIGKILL) so it can be requeued: polls say PREEMPTED."""
        self._request_stop(external_id, "preempt")

    # Extras (not in the protocol) -------------------------------------------

    def read_log(
        self, external_id: str, stream: str = "stdout", offset: int = 0, limit: int = 65536
    ) -> tuple[bytes, int]:
        """Bytes of a job's log from ``offset``; returns them and the offset to go on from."""
        if stream not in ("stdout", "stderr"):
            raise BackendError(f"local: no log stream {stream!r}")
        try:
            jobdir = self._dir(external_id)
        except BackendError:
            return b"", offset
        # The path is ours, never read back from a file; a symlink there is not followed.
        path = jobdir / f"{stream}.log"
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except (FileNotFoundError, OSError):
            return b"", offset
        with os.fdopen(fd, "rb") as fh:
            fh.seek(max(offset, 0))
            data = fh.read(max(limit, 0))
        return data, max(offset, 0) + len(data)

    def known_ids(self) -> list[str]:
        """Every job id with a directory here (for reconciliation and tests)."""
        if not self.jobs_dir.is_dir():
            return []
        return sorted(p.name for p in self.jobs_dir.iterdir() if p.is_dir())


def _spec_from(data: dict[str, object] | None) -> JobSpec | None:
    """The JobSpec that ``submit`` wrote to spec.json (None if it is missing or unreadable)."""
    if not data:
        return None
    fields = {k: v for k, v in data.items() if k in JobSpec.__dataclass_fields__}
    try:
        fields["command"] = tuple(fields["command"])  # type: ignore[arg-type]
        fields["gpu_indices"] = tuple(fields.get("gpu_indices") or ())  # type: ignore[arg-type]
        return JobSpec(**fields)  # type: ignore[arg-type]
    except (KeyError, TypeError):
        return None


def _from_result(eid: str, result: Mapping[str, object]) -> Status:
    raw = str(result.get("state", "failed"))
    try:
        state = State(raw)
    except ValueError:
        state = State.FAILED
    code = result.get("exit_code")
    started, ended = result.get("started_at"), result.get("ended_at")
    return Status(
        eid,
        state,
        reason=str(result.get("reason", "")),
        started_at=_utc(float(started)) if isinstance(started, int | float) else None,
        ended_at=_utc(float(ended)) if isinstance(ended, int | float) else None,
        exit_code=code if isinstance(code, int) else None,
    )
