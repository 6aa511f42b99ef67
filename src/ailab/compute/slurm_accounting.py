"""Slurm's accounting into ailab: every finished job's GPU-seconds, charged once.

``sacct`` lists the jobs that ended since a time (all users, also jobs submitted with plain
``sbatch`` outside ailab); each job's GPU-seconds (AllocTRES ``gres/gpu`` x elapsed) go to
the allocation whose account it ran under, through ``usage_charge`` with a unique key:

- a job this installation submitted (``--comment=ailab:[<instance>:]<job>.<run>``, and the
  Slurm id ailab recorded for that run) is charged under the key the scheduler loop uses,
  ``job:<job>:run:<run>``, so whichever of the two records it first charges it, and the
  other is a no-op;
- any other job under ``slurm:<cluster>:<jobid>``; also a job whose comment names an ailab
  job it is not (anyone may write any comment on their own job: it charges its own
  GPU-seconds where it ran and cannot stand in for another run's charge);
- a job whose run has no Slurm id recorded yet (a crash between ``sbatch`` and the
  database) waits while the loop will still adopt it (the run is pending, and the Slurm job
  is its owner's, under its account): the loop records and charges it.

Jobs under accounts that are no allocation of this cluster are counted and skipped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from ailab.accounts.posix import posix_account_of
from ailab.compute.models import Allocation, Cluster, Job, JobStatus
from ailab.compute.services import usage_charge
from ailab.compute.slurm_sync import slurm_name
from ailab.compute.usage_keys import usage_key as run_usage_key
from ailab.config.env import env_str
from ailab.execution.slurm import FinishedJob, SlurmBackend

DEFAULT_SINCE = dt.timedelta(days=2)


@dataclass
class AccountingReport:
    cluster: str
    seen: int = 0
    charged: int = 0  # new usage records
    gpu_seconds: int = 0  # charged now
    already: int = 0  # charged before (same key)
    unrecorded: int = 0  # ailab runs whose Slurm id is not recorded yet: the loop charges them
    unknown_accounts: dict[str, int] = field(default_factory=dict)


def _ailab_job(cluster: Cluster, finished: FinishedJob) -> Job | None:
    pk, _, run = finished.ailab_job_id.partition(".")
    if not pk.isdigit() or not run.isdigit():
        return None
    return Job.objects.filter(pk=int(pk), run=int(run), cluster=cluster).first()


def _loop_adopts(job: Job, finished: FinishedJob) -> bool:
    """Whether the loop will take this Slurm job as the run's own (``SlurmBackend.find``:
    a pending run, the same account and the owner's Unix user) and charge it itself."""
    if job.status != JobStatus.PENDING or job.cancel_requested:
        return False
    posix = posix_account_of(job.user)
    return (
        finished.account == job.allocation.account
        and posix is not None
        and (posix.username == finished.user)
    )


def usage_key(cluster: Cluster, finished: FinishedJob, job: Job | None) -> str:
    if job is not None:
        return run_usage_key(job.pk, job.run)
    return f"slurm:{slurm_name(cluster)}:{finished.external_id}"


def slurm_accounting_import(
    *,
    cluster: Cluster,
    since: dt.datetime | None = None,
    backend: SlurmBackend | None = None,
) -> AccountingReport:
    """Charge every job that ended since ``since`` (default: two days ago) once."""
    since = since or timezone.now() - DEFAULT_SINCE
    backend = backend or SlurmBackend(
        cluster=slurm_name(cluster),
        timeout_s=float(env_str("AILAB_SLURM_TIMEOUT", "60")),
        instance=env_str("AILAB_SLURM_INSTANCE", ""),
    )
    allocations = {a.account: a for a in Allocation.objects.filter(cluster=cluster)}
    report = AccountingReport(cluster=cluster.name)
    for finished in backend.finished_jobs(since):
        report.seen += 1
        allocation = allocations.get(finished.account)
        if allocation is None:
            report.unknown_accounts[finished.account] = (
                report.unknown_accounts.get(finished.account, 0) + 1
            )
            continue
        if finished.gpu_seconds == 0 or finished.elapsed_s <= 0:
            continue  # nothing to charge: no GPUs, or never started
        job = _ailab_job(cluster, finished)
        if job is not None and job.external_id != finished.external_id:
            if not job.external_id and _loop_adopts(job, finished):
                report.unrecorded += 1
                continue
            job = None  # a comment naming a run it is not: charged as the Slurm job it is
        _, created = usage_charge(
            allocation=allocation,
            gpu_seconds=finished.gpu_seconds,
            started_at=finished.started_at,
            ended_at=max(finished.ended_at, finished.started_at),
            key=usage_key(cluster, finished, job),
            job=job,
            gpus=finished.gpus,
        )
        if created:
            report.charged += 1
            report.gpu_seconds += finished.gpu_seconds
        else:
            report.already += 1
    return report
