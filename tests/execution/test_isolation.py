"""Lab mode: a job of user A cannot reach the lab or user B (real Unix users; needs root).

Each test is one of the attacks found against the local executor when every job ran as the
server's user: it used to succeed and must now fail. The jobs run real programs as real
accounts made with useradd; the verdicts are the kernel's (EACCES, EPERM).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from ailab.execution.base import BackendError, JobSpec, State, Status
from ailab.execution.gpus import Gpu
from ailab.execution.local import LocalBackend
from tests import unix

PY = "/usr/bin/python3"  # the system interpreter: job users cannot reach the test venv's
# Names of their own per xdist worker, so that "no process of A is left" sees only ours.
ALICE, BOB = (f"ailabt-{who}-{unix.worker_suffix()}" for who in ("alice", "bob"))

PROBE = r"""
import json, os, sys
targets = json.loads(sys.argv[1])
out = {}
for what, (op, path) in targets.items():
    try:
        if op == "read":
            open(path, "rb").read(1)
        elif op == "list":
            os.listdir(path)
        elif op == "write":
            with open(path, "a") as fh:
                fh.write("forged")
        elif op == "create":
            with open(path, "w") as fh:
                fh.write('{"state": "completed", "exit_code": 0, "started_at": 0, "ended_at": 0}')
        elif op == "signal":
            os.kill(int(path), 0)
        elif op == "killpg":
            os.killpg(int(path), signal.SIGTERM)
        out[what] = "ALLOWED"
    except PermissionError:
        out[what] = "denied"
    except FileNotFoundError:
        out[what] = "missing"
    except ProcessLookupError:
        out[what] = "no such process"
print(json.dumps(out))
""".replace("import json, os, sys", "import json, os, signal, sys")


@pytest.fixture
def lab(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalBackend]:
    """A lab-mode backend on a data directory that looks like ``make run``'s: a database
    and a secret key created with the usual modes before the backend started."""
    unix.require_root()
    base = Path(tempfile.mkdtemp(prefix="ailab-iso-", dir="/tmp"))
    os.chmod(base, 0o755)
    data = base / "data"
    data.mkdir(mode=0o755)
    (data / "db.sqlite3").write_text("SQLite format 3 (password hashes, token digests)")
    os.chmod(data / "db.sqlite3", 0o644)
    (data / "secret_key").write_text("not-for-jobs")
    monkeypatch.setenv("AILAB_SECRET_KEY", "sekrit-of-the-server")
    monkeypatch.setenv("SERVER_CANARY", "the-server-environment")
    umask = os.umask(0o022)
    os.umask(umask)
    backend = LocalBackend(
        data,
        gpus=[Gpu(i, "virtual GPU") for i in range(4)],
        grace_s=0.5,
        node_name="node-a",
        isolation_mode="users",
        create_users=True,
    )
    yield backend
    os.umask(umask)  # lab mode made this process's files private; the other tests expect not
    for eid in backend.known_ids():
        backend.cancel(eid)


def job(job_id: str, who: str, command: list[str], **kw: object) -> JobSpec:
    user, uid, gid = unix.account(who)
    fields: dict[str, object] = {"name": job_id, "gpus": 0, "time_limit_s": 60, **kw}
    fields.update(job_id=job_id, command=tuple(command), user=user, uid=uid, gid=gid)
    return JobSpec(**fields)  # type: ignore[arg-type]


def wait(backend: LocalBackend, eid: str, running: bool = False, timeout: float = 30) -> Status:
    deadline = time.monotonic() + timeout
    while True:
        status = backend.poll([eid])[eid]
        if (status.state == State.RUNNING) if running else status.state.finished:
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.05)


def output(backend: LocalBackend, eid: str) -> str:
    return backend.read_log(eid)[0].decode()


def probe(backend: LocalBackend, eid: str, who: str, targets: dict[str, tuple[str, str]]) -> dict:
    backend.submit(job(eid, who, [PY, "-c", PROBE, json.dumps(targets)]))
    status = wait(backend, eid)
    assert status.state == State.COMPLETED, (status, backend.read_log(eid, "stderr")[0])
    result: dict[str, str] = json.loads(output(backend, eid))
    return result


def bob_running(backend: LocalBackend) -> tuple[str, dict]:
    eid = backend.submit(job("bob.1", BOB, ["sh", "-c", "echo bob-secret-output; sleep 60"],
                             env={"WANDB_API_KEY": "bob-wandb-key"}))  # fmt: skip
    wait(backend, eid, running=True)
    deadline = time.monotonic() + 10
    while True:  # RUNNING is said once the runner is up; its command's pid comes just after
        record = json.loads((backend.jobs_dir / eid / "runner.json").read_text())
        if "child_pid" in record or time.monotonic() > deadline:
            return eid, record
        time.sleep(0.05)


def test_a_job_has_none_of_the_servers_environment(lab: LocalBackend) -> None:
    """The job runs as its own account with only its variables, who and where it is, its
    GPUs and ailab's job variables: no secret key, nothing else of the server's."""
    spec = job("env.1", ALICE, ["sh", "-c", "id -un; env"], gpus=2, gpu_indices=(2, 3),
               env={"MY_VAR": "mine"}, account="team-a")  # fmt: skip
    lab.submit(spec)
    assert wait(lab, "env.1").state == State.COMPLETED
    lines = output(lab, "env.1").splitlines()
    assert lines[0] == ALICE
    env = dict(line.split("=", 1) for line in lines[1:] if "=" in line)
    assert "AILAB_SECRET_KEY" not in env
    assert "SERVER_CANARY" not in env
    assert not any("sekrit" in value for value in env.values())
    assert env["MY_VAR"] == "mine"
    assert env["CUDA_VISIBLE_DEVICES"] == "2,3"
    assert env["USER"] == env["LOGNAME"] == ALICE
    assert env["AILAB_JOB_ID"] == "env.1"
    assert env["AILAB_ALLOCATION"] == "team-a"
    own = lab.work_root / "env.1"
    assert env["TMPDIR"] == str(own / "tmp")
    assert env["PWD"] == str(own)
    allowed = {"HOME", "USER", "LOGNAME", "PATH", "LANG", "TMPDIR", "PWD", "SHLVL", "_"}
    assert set(env) - allowed - {"MY_VAR", "CUDA_VISIBLE_DEVICES"} <= {
        k for k in env if k.startswith("AILAB_")
    }


def test_the_lab_and_other_tenants_files_are_out_of_reach(lab: LocalBackend) -> None:
    """Reading the database, the secret key, the data directory, B's working directory,
    B's spec (with B's API key) and logs: Permission denied. Writing the database, B's stop
    file, B's result or B's log: Permission denied."""
    bob, _ = bob_running(lab)
    data, bob_dir = lab.data_dir, lab.jobs_dir / bob
    result = probe(
        lab,
        "alice.1",
        ALICE,
        {
            "read database": ("read", str(data / "db.sqlite3")),
            "read secret key": ("read", str(data / "secret_key")),
            "list data dir": ("list", str(data)),
            "list jobs dir": ("list", str(lab.jobs_dir)),
            "list B's workdir": ("list", str(lab.work_root / bob)),
            "read B's spec": ("read", str(bob_dir / "spec.json")),
            "read B's log": ("read", str(bob_dir / "stdout.log")),
            "write database": ("write", str(data / "db.sqlite3")),
            "stop B": ("create", str(bob_dir / "stop")),
            "forge B's result": ("create", str(bob_dir / "result.json")),
            "append to B's log": ("write", str(bob_dir / "stdout.log")),
        },
    )
    assert result == dict.fromkeys(result, "denied"), result
    assert lab.poll([bob])[bob].state == State.RUNNING
    assert oct((data / "db.sqlite3").stat().st_mode & 0o777) == "0o600"


def test_a_job_cannot_signal_other_users_or_the_server(lab: LocalBackend) -> None:
    """Signals to B's command, B's process group, B's runner and the server (this process,
    which plays the web server and the worker): Operation not permitted."""
    bob, record = bob_running(lab)
    result = probe(
        lab,
        "alice.2",
        ALICE,
        {
            "signal B's command": ("signal", str(record["child_pid"])),
            "killpg B": ("killpg", str(record["child_pid"])),
            "signal B's runner": ("signal", str(record["pid"])),
            "signal the server": ("signal", str(os.getpid())),
            "signal init": ("signal", "1"),
        },
    )
    assert result == dict.fromkeys(result, "denied"), result
    assert lab.poll([bob])[bob].state == State.RUNNING


def test_a_job_cannot_change_its_own_status_or_log_path(lab: LocalBackend) -> None:
    """A job that tries to end itself 'completed' by writing result.json, or to point its
    log at the server's environment by rewriting spec.json, is denied; it exits 3 and is
    FAILED with exit 3, its times the runner's own."""
    jobdir = lab.jobs_dir / "self.1"
    script = (
        f'printf \'{{"state": "completed"}}\' > {jobdir}/result.json; '
        f'printf \'{{"stdout_path": "/proc/self/environ"}}\' > {jobdir}/spec.json; '
        "exit 3"
    )
    began = time.time()
    lab.submit(job("self.1", ALICE, ["sh", "-c", script]))
    status = wait(lab, "self.1")
    assert status.state == State.FAILED
    assert status.exit_code == 3
    assert status.started_at is not None
    assert status.started_at.timestamp() >= began - 1
    assert "Permission denied" in lab.read_log("self.1", "stderr")[0].decode()


def test_logs_are_read_from_the_derived_path_never_through_a_symlink(
    lab: LocalBackend,
) -> None:
    """Even if a log file is replaced by a symlink to the server's environment, the logs
    API returns nothing of it."""
    lab.submit(job("log.1", ALICE, ["sh", "-c", "echo hi"]))
    assert wait(lab, "log.1").state == State.COMPLETED
    log = lab.jobs_dir / "log.1" / "stdout.log"
    log.unlink()
    log.symlink_to("/proc/self/environ")
    data, _ = lab.read_log("log.1")
    assert b"sekrit" not in data
    assert data == b""


def test_no_process_outlives_its_job_and_gpus_wait_for_the_last(lab: LocalBackend) -> None:
    """A job that leaves a setsid child (double-forked, in a session of its own) behind:
    by the time any poll reports the job finished, that child is gone too."""
    pidfile = lab.work_root / "orphan.1" / "pid"
    script = f"setsid sh -c 'echo $$ > {pidfile}; exec sleep 300' & sleep 0.5; exit 0"
    lab.submit(job("orphan.1", ALICE, ["sh", "-c", script], gpus=1, gpu_indices=(0,)))
    status = wait(lab, "orphan.1")
    assert status.state == State.COMPLETED
    pid = int(pidfile.read_text())
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not [p for p in psutil.process_iter(["username"]) if p.info["username"] == ALICE]


def test_a_job_over_its_memory_limit_fails_with_a_memory_reason(lab: LocalBackend) -> None:
    """800 MiB touched by a job that asked for 100 MiB: FAILED, the reason says memory."""
    code = "import time; b = b'x' * (800 * 2**20); time.sleep(20)"  # touched, so resident
    lab.submit(job("mem.1", ALICE, [PY, "-c", code], memory_mb=100))
    status = wait(lab, "mem.1")
    assert status.state == State.FAILED, status
    assert "memory" in status.reason


def test_a_job_keeps_to_its_cpus_even_if_it_widens_its_affinity(lab: LocalBackend) -> None:
    """A 1-CPU job runs on one CPU; a process that widens its own affinity is narrowed
    back by the runner."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.fail("this test needs a machine with at least 2 CPUs")
    code = (
        "import os, time; print(len(os.sched_getaffinity(0)));"
        "os.sched_setaffinity(0, range(os.cpu_count())); time.sleep(1);"
        "print(len(os.sched_getaffinity(0)))"
    )
    lab.submit(job("cpu.1", ALICE, [PY, "-c", code], cpus=1))
    assert wait(lab, "cpu.1").state == State.COMPLETED
    assert output(lab, "cpu.1").split() == ["1", "1"]


def test_jobs_without_an_account_or_as_system_accounts_are_refused(lab: LocalBackend) -> None:
    """No Unix account: refused at submit. A uid below 1000, or a name whose uid here is not
    the one the lab assigned: the job fails with the reason, nothing runs."""
    with pytest.raises(BackendError, match="Unix account"):
        lab.submit(JobSpec(job_id="none.1", name="x", command=("true",), gpus=0,
                           time_limit_s=60))  # fmt: skip
    lab.submit(JobSpec(job_id="root.1", name="x", command=("true",), gpus=0, time_limit_s=60,
                       user="root", uid=0, gid=0))  # fmt: skip
    status = wait(lab, "root.1")
    assert status.state == State.FAILED
    assert "system account" in status.reason
    _, uid, gid = unix.account(ALICE)
    lab.submit(JobSpec(job_id="wrong.1", name="x", command=("true",), gpus=0, time_limit_s=60,
                       user=ALICE, uid=uid + 1, gid=gid))  # fmt: skip
    status = wait(lab, "wrong.1")
    assert status.state == State.FAILED
    assert f"has uid {uid}" in status.reason


def test_a_working_directory_the_user_may_not_enter_is_refused(lab: LocalBackend) -> None:
    """workdir=/root: entered as the job's user, so Permission denied and exit 126."""
    lab.submit(job("wd.1", ALICE, ["true"], workdir="/root"))
    status = wait(lab, "wd.1")
    assert status.state == State.FAILED
    assert status.exit_code == 126
    assert "Permission denied" in lab.read_log("wd.1", "stderr")[0].decode()


def test_a_missing_account_is_created_when_asked(lab: LocalBackend) -> None:
    """AILAB_LOCAL_CREATE_USERS: an account the lab assigned but this machine lacks is made
    with useradd, with the assigned uid, and the job runs as it."""
    import pwd

    name = f"ailabt-new{os.getpid() % 100000}"
    try:
        uid = pwd.getpwnam(name).pw_uid
    except KeyError:
        uid = next(u for u in range(45000, 60000) if not _uid_taken(u))
    lab.submit(JobSpec(job_id="new.1", name="x", command=("id", "-u"), gpus=0,
                       time_limit_s=60, user=name, uid=uid, gid=uid))  # fmt: skip
    assert wait(lab, "new.1").state == State.COMPLETED
    assert output(lab, "new.1").strip() == str(uid)
    assert pwd.getpwnam(name).pw_uid == uid


def _uid_taken(uid: int) -> bool:
    import pwd

    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


def test_single_user_mode_still_cleans_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Single-user mode (a laptop): jobs run as the server's own user, but with the clean
    environment and the process tracking all the same."""
    monkeypatch.setenv("AILAB_SECRET_KEY", "sekrit-of-the-server")
    backend = LocalBackend(
        tmp_path / "data", gpus=[], isolation_mode="none", work_root=tmp_path / "work"
    )
    assert not backend.isolated
    backend.submit(JobSpec(job_id="su.1", name="x", command=("sh", "-c", "id -u; env"),
                           gpus=0, time_limit_s=60))  # fmt: skip
    assert wait(backend, "su.1").state == State.COMPLETED
    text = output(backend, "su.1")
    assert text.splitlines()[0] == str(os.getuid())
    assert "sekrit" not in text


def test_a_lost_runners_job_is_killed_with_its_setsid_children(lab: LocalBackend) -> None:
    """The runner killed -9 (no result): the poll that reports LOST kills what the runner
    last recorded, setsid children included."""
    pidfile = lab.work_root / "lost.1" / "pid"
    script = f"setsid sh -c 'echo $$ > {pidfile}; exec sleep 300' & sleep 300"
    lab.submit(job("lost.1", ALICE, ["sh", "-c", script]))
    wait(lab, "lost.1", running=True)
    deadline = time.monotonic() + 10
    while not (pidfile.exists() and pidfile.read_text().strip()):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)  # the runner's next sample records the child
    runner = json.loads((lab.jobs_dir / "lost.1" / "runner.json").read_text())
    os.kill(runner["pid"], signal.SIGKILL)
    status = wait(lab, "lost.1")
    assert status.state == State.LOST
    pid = int(pidfile.read_text())
    psutil.wait_procs([psutil.Process(pid)], timeout=5) if psutil.pid_exists(pid) else None
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
