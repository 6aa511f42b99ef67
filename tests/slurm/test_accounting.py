"""Slurm accounting into ailab: GPU-seconds of finished jobs, charged once each."""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest

from ailab.compute.models import Job, Usage
from ailab.compute.selectors import allocation_used_seconds
from ailab.compute.slurm_accounting import slurm_accounting_import
from ailab.compute.slurm_sync import slurm_sync
from ailab.execution.slurm import SlurmBackend

from .conftest import SlurmLab

pytestmark = pytest.mark.slurm


def _plain_sbatch(slurm_lab: SlurmLab, account: str, gpus: int, seconds: int, *extra: str) -> str:
    """A job submitted with plain sbatch, outside ailab; waits until it has ended."""
    done = slurm_lab.slurm.commands.run(
        ["sbatch", "--parsable", f"--account={account}", f"--gres=gpu:{gpus}", "--time=2",
         "--output=/dev/null", *extra, "--wrap", f"sleep {seconds}"]
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


def test_a_forged_comment_cannot_stand_in_for_another_runs_charge(
    slurm_lab: SlurmLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anyone may comment their job ``ailab:<job>``: a Slurm job that is not the run ailab
    recorded is charged as itself (slurm:<cluster>:<jobid>, where it ran), and the run's
    own key stays free for its real charge; so is one of another user naming a pending run."""
    from ailab.compute.jobs import job_submit

    alice = slurm_lab.member("ailab-alice")
    victim = slurm_lab.grant(gpu_hours=10, members=[alice])
    other = slurm_lab.grant(gpu_hours=10, members=[alice])
    slurm_sync(cluster=slurm_lab.cluster)
    job = job_submit(
        actor=alice, allocation=victim, command=["true"], gpus=1, time_limit_s=60, workdir="/tmp"
    )
    instance = os.environ["AILAB_SLURM_INSTANCE"]
    comment = f"--comment=ailab:{instance}:{job.backend_job_id}"
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)

    # 1. the run has a recorded Slurm id; the forged job is another
    Job.objects.filter(pk=job.pk).update(external_id="99999990")
    forged = _plain_sbatch(slurm_lab, other.account, 1, 1, comment)
    slurm_accounting_import(cluster=slurm_lab.cluster, since=since)
    usage = Usage.objects.get(key=f"slurm:{slurm_lab.slurm.name}:{forged}")
    assert usage.allocation == other
    assert usage.job is None
    assert not Usage.objects.filter(job=job).exists()

    # 2. the run has none recorded yet, and the forged job is not its owner's (root's)
    Job.objects.filter(pk=job.pk).update(external_id="")
    forged = _plain_sbatch(slurm_lab, victim.account, 1, 1, comment)
    report = slurm_accounting_import(cluster=slurm_lab.cluster, since=since)
    assert report.unrecorded == 0
    usage = Usage.objects.get(key=f"slurm:{slurm_lab.slurm.name}:{forged}")
    assert usage.allocation == victim
    assert not Usage.objects.filter(job=job).exists()
