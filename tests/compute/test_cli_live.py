"""The CLI against a live server with the scheduler loop running: the issue's main scenario."""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from django.db import connection

from ailab.accounts.services import token_create
from ailab.cli import main
from ailab.compute.loop import Loop, run_loop
from ailab.compute.models import Job, JobStatus, Usage
from tests.compute.conftest import Lab, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def cli(lab: Lab, live_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """`ailab ...` in-process, logged in as the allocation's member against the live server."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("AILAB_URL", raising=False)
    monkeypatch.delenv("AILAB_TOKEN", raising=False)
    token = token_create(actor=lab.member, user=lab.member, name="cli").raw
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(main, list(args), catch_exceptions=False)

    result = run("login", "--url", live_server.url, "--token", token)
    assert result.exit_code == 0, result.output
    return run


@pytest.fixture
def scheduler() -> Iterator[Callable[[], None]]:
    """The scheduler loop in a thread, as ``ailab worker`` runs it. With SQLite's in-memory
    test database (one connection shared with the live server's thread) a second thread
    would lock it, so there the test ticks the same loop between its own steps instead."""
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        loop = Loop()
        yield lambda: loop.run_pass() and None
        return
    stop = threading.Event()
    thread = threading.Thread(target=run_loop, kwargs={"interval": 0.2, "stop": stop})
    thread.start()
    yield lambda: None
    stop.set()
    thread.join(10)


def test_login_stores_the_token_private(cli: Any, tmp_path: Path) -> None:
    """The config file is readable by its owner only and holds the URL and token."""
    path = tmp_path / "config" / "ailab" / "client.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(path.read_text())["token"].startswith("ailab_")


def test_login_with_a_bad_token_fails_in_one_line(lab: Lab, live_server: Any) -> None:
    """A wrong token: exit 1 and the API's message on one line."""
    result = CliRunner().invoke(main, ["login", "--url", live_server.url, "--token", "nope"])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0
    assert "authentication required" in result.output


def test_three_2gpu_jobs_from_the_cli(cli: Any, scheduler: Callable[[], None]) -> None:
    """Three 2-GPU jobs on 4 GPUs: two run at once with disjoint CUDA_VISIBLE_DEVICES, the
    third waits with a reason and starts when one ends; usage = GPU-seconds actually run."""
    ids = []
    for n in range(3):
        result = cli(
            "job",
            "submit",
            "--allocation",
            "Team Vision",
            "--gpus",
            "2",
            "--time",
            "1m",
            "--name",
            f"train-{n}",
            "--",
            "sh",
            "-c",
            "echo gpus=$CUDA_VISIBLE_DEVICES; sleep 2",
        )
        assert result.exit_code == 0, result.output
        ids.append(int(result.output.strip()))
    jobs = [Job.objects.get(pk=i) for i in ids]

    def two_running_one_waiting_with_a_reason() -> bool:
        jobs = list(Job.objects.filter(pk__in=ids))
        waiting = [j for j in jobs if j.status == JobStatus.PENDING]
        return (
            sum(j.status == JobStatus.RUNNING for j in jobs) == 2
            and len(waiting) == 1
            and not waiting[0].reason.startswith("queued")
        )

    wait_for(two_running_one_waiting_with_a_reason, timeout=15, tick=scheduler)
    waiting = Job.objects.filter(pk__in=ids, status=JobStatus.PENDING).get()
    assert waiting.reason
    assert not waiting.reason.startswith("queued")
    listing = cli("job", "ls")
    assert listing.exit_code == 0
    assert "running" in listing.output
    assert "pending" in listing.output
    status = cli("cluster", "status")
    assert status.exit_code == 0
    assert "node-a" in status.output
    wait_for(
        lambda: all(Job.objects.get(pk=i).status == JobStatus.COMPLETED for i in ids),
        20,
        tick=scheduler,
    )
    seen = []
    for job in jobs:
        logs = cli("job", "logs", str(job.pk))
        assert logs.exit_code == 0
        seen.append(logs.output.strip().removeprefix("gpus="))
    first_two = [set(s.split(",")) for s in seen]
    assert all(len(s) == 2 for s in first_two)
    job_rows = {j.pk: Job.objects.get(pk=j.pk) for j in jobs}
    starts = sorted(job_rows.values(), key=lambda j: j.started_at)
    assert set(starts[0].gpu_indices).isdisjoint(starts[1].gpu_indices)
    assert starts[2].started_at >= min(starts[0].ended_at, starts[1].ended_at)
    for job in job_rows.values():
        usage = Usage.objects.get(job=job)
        ran = (job.ended_at - usage.started_at).total_seconds()
        assert abs(usage.gpu_seconds - 2 * ran) <= 2  # rounding to whole seconds
        assert 4 <= usage.gpu_seconds <= 2 * 2 * 1.5 + 2


def test_cli_errors_are_one_line_and_non_zero(cli: Any) -> None:
    """Unknown allocation, too many GPUs, bad time, unknown job: exit 1, one clear line."""
    cases = [
        (
            ["job", "submit", "-A", "nope", "--gpus", "1", "--time", "1h", "--", "true"],
            "allocation",
        ),
        (
            ["job", "submit", "-A", "Team Vision", "--gpus", "9", "--time", "1h", "--", "true"],
            "gpus",
        ),
        (["job", "submit", "-A", "Team Vision", "--time", "soon", "--", "true"], "--time"),
        (["job", "show", "424242"], "no such job"),
        (["job", "cancel", "424242"], "no such job"),
    ]
    for args, expected in cases:
        result = cli(*args)
        assert result.exit_code == 1, (args, result.output)
        assert expected in result.output
        assert len(result.output.strip().splitlines()) == 1
    assert Job.objects.count() == 0


def test_cancel_and_alloc_ls(cli: Any) -> None:
    """Cancel from the CLI (twice: idempotent) and see the allocation's balance."""
    job_id = cli("job", "submit", "-A", "Team Vision", "--time", "5", "--", "sleep", "60").output
    first = cli("job", "cancel", job_id.strip())
    again = cli("job", "cancel", job_id.strip())
    assert first.exit_code == 0
    assert again.exit_code == 0
    assert "cancelled" in again.output
    listing = cli("alloc", "ls")
    assert "Team Vision" in listing.output
    assert "100.00" in listing.output


def test_env_overrides_the_stored_login_and_logs_follow(
    cli: Any,
    lab: Lab,
    live_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    scheduler: Callable[[], None],
) -> None:
    """AILAB_URL/AILAB_TOKEN win over the stored login (here: another user's token, who sees
    no allocations); `job logs -f` prints the output and returns once the job has ended."""
    job_id = cli("job", "submit", "-A", "Team Vision", "--time", "1m", "--", "echo", "hi").output
    wait_for(
        lambda: Job.objects.get(pk=int(job_id)).status == JobStatus.COMPLETED, 15, tick=scheduler
    )
    follow = cli("job", "logs", "-f", job_id.strip())
    assert follow.exit_code == 0
    assert follow.output == "hi\n"
    other = token_create(actor=lab.other, user=lab.other, name="cli").raw
    monkeypatch.setenv("AILAB_URL", live_server.url)
    monkeypatch.setenv("AILAB_TOKEN", other)
    assert "Team Vision" not in cli("alloc", "ls").output
    shown = cli("job", "show", job_id.strip())
    assert shown.exit_code == 1
    assert "no such job" in shown.output
