"""Background tasks on the database backend, with real worker processes killed mid-task."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core import mail
from django_tasks import task

from ailab.common.mail import mail_after_commit
from ailab.common.tasks import once

ROOT = Path(__file__).resolve().parents[2]


@task()
def slow_marked(*, key: str, marker: str, seconds: float) -> bool:
    """A test task: appends a line to ``marker`` when it starts, then sleeps (and is killed)."""
    with Path(marker).open("a") as f:
        f.write("start\n")
    time.sleep(seconds)
    with once(key) as first:
        return first


WORKER = """
import os, sys, django
os.environ["DJANGO_SETTINGS_MODULE"] = "ailab.config.settings"
django.setup()
from ailab.common.tasks import tasks_run_ready
tasks_run_ready()
"""
ENQUEUE = """
import os, django
os.environ["DJANGO_SETTINGS_MODULE"] = "ailab.config.settings"
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from tests.compute.test_tasks import slow_marked
slow_marked.enqueue(key="k1", marker=os.environ["MARKER"], seconds=30)
"""


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AILAB_", "PYTEST"))}
    env.update(
        AILAB_DEBUG="1",
        AILAB_TASKS="database",
        AILAB_DATABASE_URL=f"sqlite:///{tmp_path / 'tasks.sqlite3'}",
        AILAB_DATA_DIR=str(tmp_path / "data"),
        AILAB_LOG_LEVEL="WARNING",
        MARKER=str(tmp_path / "marker"),
        PYTHONPATH=str(ROOT),
    )
    return env


def _start_and_kill(env: dict[str, str], marker: Path, starts: int) -> None:
    """Start a worker, wait until the task has started ``starts`` times in all, kill -9."""
    worker = subprocess.Popen([sys.executable, "-c", WORKER], env=env, cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if marker.exists() and marker.read_text().count("start") >= starts:
            break
        if worker.poll() is not None:
            raise AssertionError(f"worker exited with {worker.returncode}")
        time.sleep(0.05)
    else:
        worker.kill()
        raise AssertionError(f"the task did not start a {starts}. time")
    worker.send_signal(signal.SIGKILL)
    worker.wait()


def _status(tmp_path: Path) -> str:
    import sqlite3

    with sqlite3.connect(tmp_path / "tasks.sqlite3") as conn:
        ((status,),) = conn.execute("select status from django_tasks_database_dbtaskresult")
    return str(status)


@pytest.mark.slow
def test_a_task_whose_worker_is_killed_reruns_at_most_once(tmp_path: Path) -> None:
    """Kill -9 the worker while the task runs: the next worker runs it again (once). Kill
    that one mid-task too: the third worker does not run it a third time but fails it, so
    staff see a failed task."""
    env = _env(tmp_path)
    marker = Path(env["MARKER"])
    subprocess.run([sys.executable, "-c", ENQUEUE], env=env, cwd=ROOT, check=True, timeout=120)
    _start_and_kill(env, marker, starts=1)
    assert _status(tmp_path) == "RUNNING"  # claimed by the dead worker
    _start_and_kill(env, marker, starts=2)
    third = subprocess.run(
        [sys.executable, "-c", WORKER], env=env, cwd=ROOT, timeout=120, check=True
    )
    assert third.returncode == 0
    assert marker.read_text().count("start") == 2
    assert _status(tmp_path) == "FAILED"


@pytest.mark.django_db(transaction=True)
def test_mail_after_commit_is_sent_once_per_key() -> None:
    """Mail enqueued in a transaction goes out after commit; the same key again (a retried
    task) sends nothing more; nothing is sent when the transaction rolls back."""
    from django.db import transaction

    with transaction.atomic():
        mail_after_commit(key="t:1", subject="hello", body="b", to=["a@x.test", "a@x.test"])
        assert mail.outbox == []  # not before commit
    assert [m.to for m in mail.outbox] == [["a@x.test"]]
    mail_after_commit(key="t:1", subject="hello", body="b", to=["a@x.test"])
    assert len(mail.outbox) == 1

    def rolled_back() -> None:
        with transaction.atomic():
            mail_after_commit(key="t:2", subject="lost", body="b", to=["a@x.test"])
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        rolled_back()
    assert len(mail.outbox) == 1
