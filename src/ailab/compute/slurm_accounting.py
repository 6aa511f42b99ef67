"""Slurm's accounting into ailab: every finished job's GPU-seconds, charged once.

``sacct`` lists the jobs that ended since a time (all users, also jobs submitted with plain
``sbatch`` outside ailab); each job's GPU-seconds (AllocTRES ``gres/gpu`` x elapsed) go to
the allocation whose account it ran under, through ``usage_charge`` with a unique key:

- a job this installation submitted (``--comment=ailab:[<instance>:]<job>.<run>``) is
  charged under the key the scheduler loop uses, ``job:<job>:run:<run>``, so whichever of
  the two records it first charges it, and the other is a no-op;
- any other job under ``slurm:<cluster>:<jobid>``.

Jobs under accounts that are no allocation of this cluster are counted and skipped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from ailab.compute.models import Allocation, Cluster, Job
from ailab.compute.services import usage_charge
from ailab.compute.slurm_sync import slurm_name
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
    unknown_accounts: dict[str, int] = field(default_factory=dict)


def _ailab_job(cluster: Cluster, finished: FinishedJob) -> Job | None:
    pk, _, run = finished.ailab_job_id.partition(".")
    if not pk.isdigit() or not run.isdigit():
        return None
    return Job.objects.filter(pk=int(pk), run=int(run), cluster=cluster).first()


def usage_key(cluster: Cluster, finished: FinishedJob, job: Job | None) -> str:
    if job is not None:
        return f"job:{job.pk}:run:{job.run}"
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
