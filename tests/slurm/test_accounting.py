"""Slurm accounting into ailab: GPU-seconds of finished jobs, charged once each."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from ailab.compute.models import Usage
from ailab.compute.selectors import allocation_used_seconds
from ailab.compute.slurm_accounting import slurm_accounting_import
from ailab.compute.slurm_sync import slurm_sync
from ailab.execution.slurm import SlurmBackend

from .conftest import SlurmLab

pytestmark = pytest.mark.slurm


def _plain_sbatch(slurm_lab: SlurmLab, account: str, gpus: int, seconds: int) -> str:
    """A job submitted with plain sbatch, outside ailab; waits until it has ended."""
    done = slurm_lab.slurm.commands.run(
        ["sbatch", "--parsable", f"--account={account}", f"--gres=gpu:{gpus}", "--time=2",
         "--output=/dev/null", "--wrap", f"sleep {seconds}"]
    )  # fmt: skip
    jid = done.stdout.strip().split(";")[0]
    backend = SlurmBackend()
    deadline = time.monotonic() + 30
    while not backend.poll([jid])[jid].state.finished:
        assert time.monotonic() < deadline, f"job {jid} did not finish"
        time.sleep(0.25)
    return jid


def test_jobs_outside_ailab_are_charged_once_to_their_allocation(slurm_lab: SlurmLab) -> None:
    """A plain-sbatch 2-GPU job is charged AllocTRES gres/gpu x elapsed under
    slurm:<cluster>:<jobid>; importing again charges nothing more."""
    allocation = slurm_lab.grant(gpu_hours=10)
    slurm_sync(cluster=slurm_lab.cluster)
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    jid = _plain_sbatch(slurm_lab, allocation.account, gpus=2, seconds=2)

    report = slurm_accounting_import(cluster=slurm_lab.cluster, since=since)
    usage = Usage.objects.get(key=f"slurm:{slurm_lab.slurm.name}:{jid}")
    assert usage.allocation == allocation
    assert usage.gpus == 2
    assert usage.gpu_seconds == 2 * round((usage.ended_at - usage.started_at).total_seconds())
    assert usage.gpu_seconds >= 2 * 2
    assert report.charged >= 1
    assert allocation_used_seconds(allocation) == usage.gpu_seconds

    again = slurm_accounting_import(cluster=slurm_lab.cluster, since=since)
    assert again.charged == 0
    assert again.already >= 1
    assert allocation_used_seconds(allocation) == usage.gpu_seconds


def test_jobs_of_accounts_ailab_does_not_know_are_reported_not_charged(
    slurm_lab: SlurmLab,
) -> None:
    """A job under an account that is no allocation is counted under unknown_accounts."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    stray = slurm_lab.slurm.account("x")
    _plain_sbatch(slurm_lab, stray, gpus=1, seconds=1)
    report = slurm_accounting_import(cluster=slurm_lab.cluster, since=since)
    assert report.unknown_accounts.get(stray) == 1
    assert not Usage.objects.filter(allocation__account=stray).exists()


def test_the_scheduler_loop_imports_jobs_run_outside_ailab(
    slurm_lab: SlurmLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loop itself charges plain-sbatch jobs (Capability.ACCOUNTING), at most once per
    AILAB_ACCOUNTING_IMPORT_S: a second pass inside the interval does not import again."""
    from ailab.compute.loop import Loop

    allocation = slurm_lab.grant(gpu_hours=10)
    slurm_sync(cluster=slurm_lab.cluster)
    jid = _plain_sbatch(slurm_lab, allocation.account, gpus=1, seconds=1)
    monkeypatch.setenv("AILAB_ACCOUNTING_IMPORT_S", "3600")
    loop = Loop()
    loop.run_pass()
    usage = Usage.objects.get(key=f"slurm:{slurm_lab.slurm.name}:{jid}")
    assert usage.allocation == allocation
    Usage.objects.filter(pk=usage.pk).delete()
    loop.run_pass()  # within the interval: no second import
    assert not Usage.objects.filter(key=f"slurm:{slurm_lab.slurm.name}:{jid}").exists()
