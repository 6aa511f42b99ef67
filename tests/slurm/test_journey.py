"""Through ailab's services and scheduler loop against the real cluster: a 2-GPU job runs
with CUDA_VISIBLE_DEVICES, shows Slurm's state, is charged after it ends; cancel works; a
job over its allocation's budget is held by Slurm and ailab says why; jobs of ailab-alice
and ailab-bob run as those Unix users; a name with a newline is refused (422 ``name``); a
0-GPU job Slurm gave GPUs is charged the GPUs Slurm gave."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ailab.compute.jobs import job_cancel, job_submit
from ailab.compute.loop import Loop
from ailab.compute.models import Job, JobStatus, Usage
from ailab.compute.selectors import allocation_used_seconds
from ailab.compute.slurm_accounting import slurm_accounting_import
from ailab.compute.slurm_sync import slurm_sync
from ailab.execution import registry
from ailab.execution.slurm import SlurmBackend

from .conftest import SlurmLab

pytestmark = pytest.mark.slurm


@pytest.fixture
def lab(slurm_lab: SlurmLab, monkeypatch: pytest.MonkeyPatch) -> SlurmLab:
    if "slurm" not in registry.BACKENDS:  # until the registry names it
        monkeypatch.setitem(registry.BACKENDS, "slurm", "ailab.execution.slurm:SlurmBackend")
    return slurm_lab


@pytest.fixture
def outdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="ailab-slurm-journey-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def run_until(loop: Loop, job: Job, check: Callable[[Job], bool], timeout: float = 30) -> Job:
    deadline = time.monotonic() + timeout
    while True:
        loop.run_pass()
        job.refresh_from_db()
        if check(job):
            return job
        assert time.monotonic() < deadline, f"{job}: {job.status} {job.reason!r}"
        time.sleep(0.3)


def test_two_gpu_job_runs_is_shown_and_charged(lab: SlurmLab, outdir: Path) -> None:
    """The job runs on Slurm with 2 GPUs in CUDA_VISIBLE_DEVICES; usage lands once."""
    member = lab.member("ailab-alice")
    allocation = lab.grant(gpu_hours=10, members=[member])
    slurm_sync(cluster=lab.cluster)
    job = job_submit(
        actor=member,
        allocation=allocation,
        command=["bash", "-c", f"echo $CUDA_VISIBLE_DEVICES > {outdir}/cvd; sleep 4"],
        gpus=2,
        time_limit_s=300,
        workdir=str(outdir),
    )
    loop = Loop()
    job = run_until(loop, job, lambda j: j.status == JobStatus.RUNNING)
    assert job.external_id.isdigit()
    job = run_until(loop, job, lambda j: j.finished)
    assert job.status == JobStatus.COMPLETED, job.reason
    assert len((outdir / "cvd").read_text().strip().split(",")) == 2
    used = allocation_used_seconds(allocation)
    assert used >= 2 * 3
    # Slurm's accounting agrees and charges nothing twice (same key as the loop's)
    report = slurm_accounting_import(cluster=lab.cluster)
    assert report.already >= 1
    assert allocation_used_seconds(allocation) == used


def test_cancel_a_running_job(
    lab: SlurmLab, outdir: Path, django_capture_on_commit_callbacks: object
) -> None:
    """job_cancel on a running Slurm job: scancel, and the loop records CANCELLED."""
    member = lab.member("ailab-alice")
    allocation = lab.grant(gpu_hours=10, members=[member])
    slurm_sync(cluster=lab.cluster)
    job = job_submit(
        actor=member,
        allocation=allocation,
        command=["sleep", "120"],
        gpus=1,
        time_limit_s=300,
        workdir=str(outdir),
    )
    loop = Loop()
    job = run_until(loop, job, lambda j: j.status == JobStatus.RUNNING)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        job_cancel(actor=member, job=job)
    job = run_until(loop, job, lambda j: j.finished)
    assert job.status == JobStatus.CANCELLED
    status = SlurmBackend().poll([job.external_id])[job.external_id]
    assert status.state.value == "cancelled"


def test_job_over_budget_is_held_by_slurm_and_ailab_says_why(lab: SlurmLab, outdir: Path) -> None:
    """1 GPU-hour budget, 2 GPUs x 2 h asked: Slurm holds it (AssocGrpGRESMinutes)."""
    member = lab.member("ailab-alice")
    allocation = lab.grant(gpu_hours=1, members=[member])
    slurm_sync(cluster=lab.cluster)
    job = job_submit(
        actor=member,
        allocation=allocation,
        command=["true"],
        gpus=2,
        time_limit_s=2 * 3600,
        workdir=str(outdir),
    )
    loop = Loop()
    try:
        job = run_until(loop, job, lambda j: j.reason.startswith("AssocGrpGRESMinutes"))
        assert job.status == JobStatus.PENDING
        assert "budget" in job.reason
    finally:
        job.refresh_from_db()
        if job.external_id:
            SlurmBackend().cancel(job.external_id)


def test_jobs_of_alice_and_bob_run_as_their_own_unix_users(lab: SlurmLab, outdir: Path) -> None:
    """Each member's job is submitted as their POSIX account: `id -un` in the job's output
    is ailab-alice for Alice's job and ailab-bob for Bob's, and each output file is theirs."""
    import pwd

    alice, bob = lab.member("ailab-alice"), lab.member("ailab-bob")
    allocation = lab.grant(gpu_hours=10, members=[alice, bob])
    slurm_sync(cluster=lab.cluster)
    jobs = {
        who: job_submit(
            actor=user,
            allocation=allocation,
            command=["id", "-un"],
            gpus=0,
            time_limit_s=120,
            workdir=str(outdir),
        )
        for who, user in (("ailab-alice", alice), ("ailab-bob", bob))
    }
    loop = Loop()
    for who, job in jobs.items():
        job = run_until(loop, job, lambda j: j.finished)
        assert job.status == JobStatus.COMPLETED, job.reason
        out = outdir / f"slurm-{job.external_id}.out"
        assert out.read_text().strip() == who
        assert out.stat().st_uid == pwd.getpwnam(who).pw_uid


def test_a_name_with_a_newline_is_refused_with_422_naming_it(lab: SlurmLab) -> None:
    """POST /api/v1/jobs with "x\n#SBATCH --gres=gpu:8" as the name: 422, field ``name``;
    no job is made and nothing reaches Slurm."""
    from django.test import Client

    from ailab.accounts.services import token_create

    member = lab.member("ailab-alice")
    allocation = lab.grant(gpu_hours=10, members=[member])
    raw = token_create(actor=member, user=member, name="t").raw
    client = Client(headers={"Authorization": f"Bearer {raw}"})
    response = client.post(
        "/api/v1/jobs",
        {
            "allocation": allocation.name,
            "command": ["true"],
            "time_limit_s": 60,
            "name": "x\n#SBATCH --gres=gpu:8",
        },
        content_type="application/json",
    )
    assert response.status_code == 422, response.content
    assert [e["field"] for e in response.json()["errors"]] == ["name"]
    assert not Job.objects.filter(allocation=allocation).exists()


def test_a_zero_gpu_job_slurm_gave_gpus_is_charged_those_gpus(lab: SlurmLab, outdir: Path) -> None:
    """The dev cluster's job_submit.lua gives jobs of gpugift* accounts 2 GPUs: a job that
    asked for 0 is charged 2 x its elapsed seconds (AllocTRES), by the loop and by the
    accounting import alike (one charge, never 0)."""
    member = lab.member("ailab-bob")
    allocation = lab.grant(gpu_hours=10, members=[member], account=f"gpugift{lab.root[1:7]}")
    slurm_sync(cluster=lab.cluster)
    job = job_submit(
        actor=member,
        allocation=allocation,
        command=["sleep", "3"],
        gpus=0,
        time_limit_s=120,
        workdir=str(outdir),
    )
    job = run_until(Loop(), job, lambda j: j.finished)
    assert job.status == JobStatus.COMPLETED, job.reason
    usage = Usage.objects.get(key=f"job:{job.pk}:run:{job.run}")
    assert usage.gpus == 2
    elapsed = (usage.ended_at - usage.started_at).total_seconds()
    assert usage.gpu_seconds == round(2 * elapsed)
    assert usage.gpu_seconds >= 2 * 3
    assert allocation_used_seconds(allocation) == usage.gpu_seconds
    report = slurm_accounting_import(cluster=lab.cluster)
    assert report.already >= 1
    assert allocation_used_seconds(allocation) == usage.gpu_seconds
