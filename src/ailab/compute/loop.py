"""The scheduler loop (``ailab worker``; also inside ``ailab run``).

Each pass, for each cluster whose lease this loop holds:

1. track: hand jobs that were started but not yet submitted to the backend (a crash between
   the two leaves them so; ``submit`` is idempotent, so this never runs a job twice), repeat
   cancel and preempt requests, poll running jobs and finish those that ended: status, GPUs
   freed and usage charged, in one transaction (the usage key makes a second charge a no-op);
2. plan: snapshot -> ``plan()`` -> guarded apply (``ailab.compute.scheduler``), unless the
   backend schedules by itself (``Capability.SCHEDULES``: Slurm), where pending jobs are only
   submitted;
3. submit the jobs just started, after commit.

Run two loops and one waits: the lease (a row with an expiry) lets one loop per cluster work;
a loop that dies loses it after ``AILAB_SCHEDULER_LEASE_S`` seconds (default 15).
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field

from django.db import close_old_connections, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from ailab.accounts.posix import posix_account_of
from ailab.compute.models import (
    Cluster,
    GpuAssignment,
    Job,
    JobStatus,
    SchedulerLease,
)
from ailab.compute.scheduler import plan_and_apply
from ailab.compute.services import (
    allocation_refresh_states,
    cluster_default,
    inventory_sync,
    usage_charge,
)
from ailab.compute.transitions import job_transition
from ailab.config.env import env_int, env_str
from ailab.execution.base import Backend, BackendError, Capability, JobSpec, State, Status
from ailab.execution.registry import get_backend

log = logging.getLogger(__name__)

STATE_REFRESH_S = 30.0  # dates change slowly; charges refresh an allocation's state at once

FINAL = {
    State.COMPLETED: JobStatus.COMPLETED,
    State.FAILED: JobStatus.FAILED,
    State.CANCELLED: JobStatus.CANCELLED,
    State.TIMEOUT: JobStatus.TIMEOUT,
    State.LOST: JobStatus.FAILED,
}


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def lease_seconds() -> int:
    return env_int("AILAB_SCHEDULER_LEASE_S", 15)


def lease_acquire(cluster: Cluster, owner: str, now: dt.datetime) -> bool:
    """Take or renew the cluster's lease; False while another live loop holds it."""
    with transaction.atomic():
        SchedulerLease.objects.get_or_create(cluster=cluster)
        n = (
            SchedulerLease.objects.filter(cluster=cluster)
            .filter(Q(owner=owner) | Q(expires_at__isnull=True) | Q(expires_at__lt=now))
            .update(owner=owner, expires_at=now + dt.timedelta(seconds=lease_seconds()))
        )
    return n == 1


def lease_release(cluster: Cluster, owner: str) -> None:
    SchedulerLease.objects.filter(cluster=cluster, owner=owner).update(expires_at=None)


@dataclass
class PassReport:
    started: list[int] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)
    skipped_clusters: list[str] = field(default_factory=list)
    conflict: bool = False


def job_spec(job: Job) -> JobSpec:
    posix = posix_account_of(job.user)
    return JobSpec(
        job_id=job.backend_job_id,
        name=job.name or f"job-{job.pk}",
        command=tuple(job.command),
        gpus=job.gpus,
        time_limit_s=job.time_limit_s,
        workdir=job.workdir or None,
        env=dict(job.env or {}),
        cpus=job.cpus,
        memory_mb=job.memory_mb,
        account=job.allocation.account,
        user=posix.username if posix else "",
        uid=posix.uid if posix else None,
        gid=posix.gid if posix else None,
        node=job.node.name if job.node else None,
        gpu_indices=tuple(job.gpu_indices or ()),
    )


# Backends that account for themselves (Capability.ACCOUNTING): their importer, by name.
ACCOUNTING_IMPORTERS = {"slurm": "ailab.compute.slurm_accounting:slurm_accounting_import"}


class Loop:
    """One scheduler loop: its own lease owner id and backend instances."""

    def __init__(self, owner: str | None = None) -> None:
        self.owner = owner or new_owner()
        self.backends: dict[str, Backend] = {}
        self.synced: set[int] = set()
        self.states_refreshed = 0.0
        self.accounting_imported: dict[int, float] = {}

    def backend(self, cluster: Cluster) -> Backend:
        if cluster.backend not in self.backends:
            self.backends[cluster.backend] = get_backend(cluster.backend)
        return self.backends[cluster.backend]

    def run_pass(self, now: dt.datetime | None = None) -> PassReport:
        report = PassReport()
        cluster_default()
        if time.monotonic() - self.states_refreshed > STATE_REFRESH_S:
            allocation_refresh_states()
            self.states_refreshed = time.monotonic()
        for cluster in Cluster.objects.all():
            if not lease_acquire(cluster, self.owner, timezone.now()):
                report.skipped_clusters.append(cluster.name)
                continue
            backend = self.backend(cluster)
            if cluster.pk not in self.synced:
                inventory_sync(cluster=cluster, nodes=backend.nodes())
                self.synced.add(cluster.pk)
            report.finished += self.track(cluster, backend)
            if Capability.ACCOUNTING in backend.capabilities:
                self.import_accounting(cluster)
            if Capability.SCHEDULES in backend.capabilities:
                self.submit_pending(cluster, backend)
                continue
            applied = plan_and_apply(
                cluster, owner=self.owner, now=now, capabilities=frozenset(backend.capabilities)
            )
            report.conflict |= applied.conflict
            for job_id in applied.preempted:
                job = Job.objects.get(pk=job_id)
                if job.external_id:
                    backend.preempt(job.external_id)
            for job in Job.objects.filter(pk__in=applied.started).select_related(
                "allocation", "user", "node"
            ):
                self.submit(job, backend)
            report.started += applied.started
        return report

    def import_accounting(self, cluster: Cluster) -> None:
        """Every few minutes, charge jobs the backend ran outside ailab (plain ``sbatch``).

        Jobs ailab submitted are charged by ``finish``; the importer's keys make sure a job is
        charged once whichever side sees it first.
        """
        every = float(env_str("AILAB_ACCOUNTING_IMPORT_S", "300"))
        last = self.accounting_imported.get(cluster.pk)
        if last is not None and time.monotonic() - last < every:
            return
        self.accounting_imported[cluster.pk] = time.monotonic()
        importer_path = ACCOUNTING_IMPORTERS.get(cluster.backend)
        if importer_path is None:
            return
        module_name, _, attr = importer_path.partition(":")
        importer = getattr(importlib.import_module(module_name), attr)
        try:
            importer(cluster=cluster)
        except BackendError:
            log.exception("accounting import for cluster %s failed", cluster.name)

    # Backend calls -----------------------------------------------------------

    def submit(self, job: Job, backend: Backend) -> None:
        """Hand a started job to the backend; idempotent by the run's id, so repeating it
        after a crash starts nothing twice."""
        try:
            external_id = backend.submit(job_spec(job))
        except BackendError as exc:
            self.finish(job, Status(job.backend_job_id, State.FAILED, reason=f"submit: {exc}"))
            return
        Job.objects.filter(pk=job.pk, run=job.run, external_id="").update(
            external_id=external_id, reason=""
        )

    def submit_pending(self, cluster: Cluster, backend: Backend) -> None:
        """For backends that schedule: pending jobs go straight to them."""
        for job in Job.objects.filter(
            cluster=cluster, status=JobStatus.PENDING, external_id="", cancel_requested=False
        ).select_related("allocation", "user"):
            try:
                external_id = backend.submit(job_spec(job))
            except BackendError as exc:
                Job.objects.filter(pk=job.pk).update(reason=f"submit failed: {exc}"[:300])
                continue
            Job.objects.filter(pk=job.pk, external_id="").update(external_id=external_id)

    def track(self, cluster: Cluster, backend: Backend) -> list[int]:
        jobs = list(
            Job.objects.filter(cluster=cluster, status__in=[JobStatus.RUNNING, JobStatus.PENDING])
            .exclude(status=JobStatus.PENDING, external_id="")
            .select_related("allocation", "user", "node")
        )
        for job in jobs:
            if job.status == JobStatus.RUNNING and not job.external_id:
                self.submit(job, backend)
                job.refresh_from_db()
            if job.external_id and job.cancel_requested:
                backend.cancel(job.external_id)
            elif job.external_id and job.preempt_requested:
                backend.preempt(job.external_id)
        ids = [j.external_id for j in jobs if j.external_id]
        if not ids:
            return []
        statuses = backend.poll(ids)
        finished = []
        for job in jobs:
            status = statuses.get(job.external_id) if job.external_id else None
            if status is None:
                continue
            if status.state.finished:
                if job.status == JobStatus.PENDING:  # a scheduling backend ran it between polls
                    self._mark_running(job, status)
                    job.refresh_from_db()
                if self.finish(job, status):
                    finished.append(job.pk)
            elif status.state == State.RUNNING and job.status == JobStatus.PENDING:
                self._mark_running(job, status)
            elif (
                status.state == State.PENDING and status.reason and job.status == JobStatus.PENDING
            ):
                Job.objects.filter(pk=job.pk).exclude(reason=status.reason).update(
                    reason=status.reason[:300]
                )
        return finished

    def _mark_running(self, job: Job, status: Status) -> None:
        job_transition(
            job,
            JobStatus.RUNNING,
            expect=JobStatus.PENDING,
            started_at=status.started_at or timezone.now(),
            reason="",
        )

    def finish(self, job: Job, status: Status) -> bool:
        """Record a run's end once: status, GPUs freed, usage charged (unique key)."""
        now = timezone.now()
        with transaction.atomic():
            current = Job.objects.select_for_update().filter(pk=job.pk).first()
            if current is None or current.status != JobStatus.RUNNING or current.run != job.run:
                return False
            started = status.started_at or current.started_at or now
            ended = status.ended_at or now
            ran = max((ended - started).total_seconds(), 0.0) if status.started_at else 0.0
            # The GPUs the backend says the job held (Slurm's AllocTRES), else the request.
            gpus = status.gpus if status.gpus is not None else current.gpus
            gpu_seconds = round(gpus * ran)  # GPUs x seconds, rounded once
            if status.started_at:
                usage_charge(
                    allocation=current.allocation,
                    gpu_seconds=gpu_seconds,
                    started_at=started,
                    ended_at=max(ended, started),
                    key=f"job:{current.pk}:run:{current.run}",
                    job=current,
                    gpus=gpus,
                    gpu_model=current.node.gpu_model if current.node else None,
                )
            GpuAssignment.objects.filter(job=current).delete()
            Cluster.objects.filter(pk=current.cluster_id).update(version=F("version") + 1)
            requeue = status.state == State.PREEMPTED and not current.cancel_requested
            if requeue:
                target = JobStatus.PENDING
                reason = f"preempted ({current.reason.removeprefix('preempting: ')}); requeued"
            elif current.cancel_requested and status.state in (
                State.PREEMPTED,
                State.LOST,
                State.CANCELLED,
            ):
                target, reason = JobStatus.CANCELLED, status.reason or "cancelled"
            else:
                target = FINAL.get(status.state, JobStatus.FAILED)
                reason = f"lost: {status.reason}" if status.state == State.LOST else status.reason
            fields: dict[str, object] = {
                "reason": reason[:300],
                "exit_code": status.exit_code,
                "attained_gpu_seconds": current.attained_gpu_seconds + gpu_seconds,
                "preempt_requested": False,
            }
            if requeue:
                fields.update(
                    preemptions=current.preemptions + 1, external_id="", node=None, gpu_indices=[]
                )
            else:
                fields["ended_at"] = ended
            return job_transition(current, target, expect=JobStatus.RUNNING, **fields)


def _newest_job_id() -> int:
    return Job.objects.order_by("-id").values_list("id", flat=True).first() or 0


def run_loop(
    *,
    once: bool = False,
    interval: float = 1.0,
    stop: threading.Event | None = None,
    owner: str | None = None,
) -> None:
    """Run passes every ``interval`` seconds until ``stop`` is set (or once).

    Between passes it looks every ``AILAB_SCHEDULER_WAKE_MS`` milliseconds (default 50; one
    indexed query) for a newly submitted job, and if there is one passes at once, so an idle
    cluster starts a job without waiting out the interval.
    """
    loop = Loop(owner)
    stop = stop or threading.Event()
    wake = env_int("AILAB_SCHEDULER_WAKE_MS", 50) / 1000
    log.info("scheduler loop %s: every %.1f s", loop.owner, interval)
    try:
        while not stop.is_set():
            began = time.monotonic()
            seen = _newest_job_id()
            try:
                loop.run_pass()
            except Exception:
                if once:
                    raise
                log.exception("scheduler pass failed; trying again")
            finally:
                close_old_connections()
            if once:
                break
            next_pass = began + interval
            while not stop.is_set() and time.monotonic() < next_pass:
                if wake > 0 and _newest_job_id() > seen:
                    break
                stop.wait(min(wake if wake > 0 else interval, next_pass - time.monotonic()))
    finally:
        for cluster in Cluster.objects.all():
            lease_release(cluster, loop.owner)
        connection.close()  # this thread's connection: a loop in a thread leaves none open
