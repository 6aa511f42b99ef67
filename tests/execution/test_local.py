"""The local backend: the contract suite, plus what only a local backend can show."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from ailab.execution.base import BackendError, JobSpec, State
from ailab.execution.gpus import Gpu
from ailab.execution.local import LocalBackend
from tests import unix
from tests.execution.contract import BackendContract

JOB_USER = "ailabt-local"


def local_backend(data_dir: Path, **kw: Any) -> LocalBackend:
    """A local backend whose jobs' working directories their users can reach."""
    return LocalBackend(data_dir, work_root=unix.job_root() / data_dir.name, **kw)


@pytest.fixture
def backend(tmp_path: Path) -> LocalBackend:
    return local_backend(
        tmp_path / "data",
        gpus=[Gpu(i, "virtual GPU") for i in range(4)],
        grace_s=0.5,
        node_name="node-a",
    )


@pytest.fixture
def shared_dir(tmp_path: Path) -> Path:
    return unix.open_dir(f"shared-{tmp_path.name}")


class TestLocalContract(BackendContract):
    """The shared contract, against the local backend (jobs run as a real other user when
    the tests run as root)."""

    job_user = JOB_USER


def spec(job_id: str, command: list[str], **kw: object) -> JobSpec:
    user, uid, gid = unix.account(JOB_USER)
    fields: dict[str, object] = {
        "name": "t",
        "gpus": 0,
        "time_limit_s": 60,
        "user": user,
        "uid": uid,
        "gid": gid,
        **kw,
    }
    return JobSpec(job_id=job_id, command=tuple(command), **fields)  # type: ignore[arg-type]


def wait_state(backend: LocalBackend, eid: str, state: State, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while backend.poll([eid])[eid].state != state:
        assert time.monotonic() < deadline, backend.poll([eid])[eid]
        time.sleep(0.05)


def test_a_job_outlives_its_backend_and_is_adopted(tmp_path: Path) -> None:
    """A job keeps running when the backend object (the worker) goes away; a new backend on
    the same data directory sees it RUNNING, then its real outcome."""
    first = local_backend(tmp_path, gpus=[])
    eid = first.submit(spec("a.1", ["sh", "-c", "sleep 1; exit 4"]))
    wait_state(first, eid, State.RUNNING)
    del first
    second = local_backend(tmp_path, gpus=[])
    assert second.poll([eid])[eid].state == State.RUNNING
    wait_state(second, eid, State.FAILED)
    assert second.poll([eid])[eid].exit_code == 4


def test_a_recycled_pid_is_not_mistaken_for_the_job(tmp_path: Path) -> None:
    """The runner is recognised by pid AND start time: a live process with the same pid but
    another start time means the job is gone (LOST), not running."""
    backend = local_backend(tmp_path, gpus=[])
    eid = backend.submit(spec("b.1", ["sleep", "30"]))
    wait_state(backend, eid, State.RUNNING)
    runner_file = tmp_path / "jobs" / eid / "runner.json"
    record = json.loads(runner_file.read_text())
    os.killpg(record["pid"], signal.SIGKILL)  # the runner and its command, no result
    time.sleep(0.3)
    record["pid"] = os.getpid()  # a live process ...
    record["create_time"] = psutil.Process().create_time() - 100  # ... that started earlier
    runner_file.write_text(json.dumps(record))
    status = backend.poll([eid])[eid]
    assert status.state == State.LOST
    assert "without an exit status" in status.reason


def test_logs_are_written_under_the_data_dir_and_read_by_offset(tmp_path: Path) -> None:
    """stdout goes to a file under the data directory; read_log pages through it."""
    backend = local_backend(tmp_path, gpus=[])
    eid = backend.submit(spec("c.1", ["sh", "-c", "printf hello; printf oops >&2"]))
    wait_state(backend, eid, State.COMPLETED)
    assert (tmp_path / "jobs" / eid / "stdout.log").read_text() == "hello"
    data, nxt = backend.read_log(eid, "stdout", 0, 3)
    assert (data, nxt) == (b"hel", 3)
    assert backend.read_log(eid, "stdout", nxt)[0] == b"lo"
    assert backend.read_log(eid, "stderr")[0] == b"oops"


def test_sigterm_is_followed_by_sigkill_after_the_grace(tmp_path: Path) -> None:
    """A command that ignores SIGTERM is killed once the grace period is over."""
    backend = local_backend(tmp_path, gpus=[], grace_s=0.5)
    eid = backend.submit(spec("d.1", ["sh", "-c", "trap '' TERM; sleep 30"], time_limit_s=1))
    began = time.monotonic()
    wait_state(backend, eid, State.TIMEOUT)
    assert time.monotonic() - began < 5


def test_bad_specs_raise_backend_error(tmp_path: Path) -> None:
    """GPU indices outside the node, or an unsafe id, are refused with BackendError."""
    backend = local_backend(tmp_path, gpus=[Gpu(0, "virtual GPU")])
    with pytest.raises(BackendError):
        backend.submit(spec("e.1", ["true"], gpus=1, gpu_indices=(3,)))
    with pytest.raises(BackendError):
        backend.submit(spec("../escape", ["true"]))


def test_a_command_that_cannot_start_fails_with_a_reason(tmp_path: Path) -> None:
    """A program that does not exist: FAILED, exit 127, the reason says why."""
    backend = local_backend(tmp_path, gpus=[])
    eid = backend.submit(spec("f.1", ["/no/such/program"]))
    wait_state(backend, eid, State.FAILED)
    status = backend.poll([eid])[eid]
    assert status.exit_code == 127
    assert "cannot start" in status.reason


def test_a_launch_that_died_before_starting_the_runner_is_resumed(tmp_path: Path) -> None:
    """A submit that wrote the spec and the launch lock, then died before starting the runner:
    once the starting grace is over, a poll resumes the launch (the job is not lost) and a
    later submit of the same id starts nothing more."""
    backend = local_backend(tmp_path, gpus=[])
    marker = unix.open_dir(f"g-{tmp_path.name}") / "ran"
    backend.submit(spec("g.1", ["sh", "-c", f"echo x >> {marker}"]))
    wait_state(backend, "g.1", State.COMPLETED)
    jobdir = tmp_path / "jobs" / "g.1"
    for name in ("runner.json", "launched.json", "result.json", "runner.log"):
        (jobdir / name).unlink()
    marker.unlink()
    old = time.time() - 3600
    os.utime(jobdir / "launch.lock", (old, old))
    os.utime(jobdir, (old, old))
    assert backend.poll(["g.1"])["g.1"].state == State.PENDING
    wait_state(backend, "g.1", State.COMPLETED)
    assert backend.submit(spec("g.1", ["true"])) == "g.1"
    time.sleep(0.5)
    assert marker.read_text() == "x\n"
