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
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from django.db import close_old_connections, connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from ailab.accounts.posix import posix_account_of
from ailab.compute.models import (
    Cluster,
    GpuAssignment,
    Job,
    JobStatus,
    SchedulerLease,
)
from ailab.compute.outcomes import Outcome, RunView, finish_outcome
from ailab.compute.planning import reasons
from ailab.compute.planning.estimates import (
    LEARN_FROM,
    estimator_load,
    estimator_observe,
    estimator_save,
)
from ailab.compute.scheduler import PlanGate, plan_and_apply
from ailab.compute.services import (
    allocation_refresh_states,
    cluster_default,
    inventory_sync,
    usage_charge,
)
from ailab.compute.tasks import accounting_import_task
from ailab.compute.transitions import job_transition
from ailab.compute.usage_keys import usage_key
from ailab.config.env import env_int, env_str
from ailab.execution.base import Backend, BackendError, Capability, JobSpec, State, Status
from ailab.execution.registry import get_backend
from ailab.scheduling.estimate import RuntimeEstimator

log = logging.getLogger(__name__)

STATE_REFRESH_S = 30.0  # dates change slowly; charges refresh an allocation's state at once

Clock = Callable[[], dt.datetime]


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
    failed_clusters: list[str] = field(default_factory=list)
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


class Loop:
    """One scheduler loop: its own lease owner id, backend instances, estimators and clock.

    ``clock`` gives the time for everything the loop decides (leases, starts, ends, charges,
    refresh intervals); tests pass a fake one.
    """

    def __init__(self, owner: str | None = None, *, clock: Clock = timezone.now) -> None:
        self.owner = owner or new_owner()
        self.clock = clock
        self.backends: dict[str, Backend] = {}
        self.synced: set[int] = set()
        self.states_refreshed: dt.datetime | None = None
        self.accounting_imported: dict[int, dt.datetime] = {}
        self.estimators: dict[int, RuntimeEstimator] = {}
        self.learned: set[int] = set()  # clusters whose estimator learned since it was saved
        self.gate = PlanGate()

    def backend(self, cluster: Cluster) -> Backend:
        if cluster.backend not in self.backends:
            self.backends[cluster.backend] = get_backend(cluster.backend)
        return self.backends[cluster.backend]

    def estimator(self, cluster_id: int) -> RuntimeEstimator:
        if cluster_id not in self.estimators:
            self.estimators[cluster_id] = estimator_load(cluster_id)
        return self.estimators[cluster_id]

    def run_pass(self, now: dt.datetime | None = None) -> PassReport:
        """One pass over every cluster. With ``now`` the whole pass runs at that time;
        without, each stage reads the loop's clock when it begins (a plan after tracking
        starts jobs no earlier than the runs it just saw end)."""
        at: Clock = self.clock if now is None else _fixed(now)
        now = at()
        report = PassReport()
        cluster_default()
        if self.states_refreshed is None or _seconds(now, self.states_refreshed) > STATE_REFRESH_S:
            allocation_refresh_states(today=timezone.localdate(now))
            self.states_refreshed = now
        for cluster in Cluster.objects.all():
            try:
                self.cluster_pass(cluster, at, report)
            except Exception:  # one cluster's failure stays with it
                log.exception("scheduler pass for cluster %s failed", cluster.name)
                report.failed_clusters.append(cluster.name)
        return report

    def cluster_pass(self, cluster: Cluster, at: Clock, report: PassReport) -> None:
        if not lease_acquire(cluster, self.owner, at()):
            report.skipped_clusters.append(cluster.name)
            return
        backend = self.backend(cluster)
        if cluster.pk not in self.synced:
            inventory_sync(cluster=cluster, nodes=backend.nodes())
            self.synced.add(cluster.pk)
        report.finished += self.track(cluster, backend, at())
        if Capability.ACCOUNTING in backend.capabilities:
            self.import_accounting(cluster, at())
        if Capability.SCHEDULES in backend.capabilities:
            self.submit_pending(cluster, backend)
        else:
            self.plan(cluster, backend, at(), report)
        if cluster.pk in self.learned:
            estimator_save(cluster.pk, self.estimator(cluster.pk))
            self.learned.discard(cluster.pk)

    def plan(
        self, cluster: Cluster, backend: Backend, now: dt.datetime, report: PassReport
    ) -> None:
        mark = self.gate.due(cluster, now)
        if mark is None:  # nothing the plan reads has changed: no snapshot, no plan
            return
        applied = plan_and_apply(
            cluster,
            owner=self.owner,
            now=now,
            capabilities=frozenset(backend.capabilities),
            estimate=self.estimator(cluster.pk).predict,
        )
        self.gate.planned(cluster, mark, applied, now)
        report.conflict |= applied.conflict
        for job in Job.objects.filter(pk__in=applied.preempted).exclude(external_id=""):
            _isolated("preempt", job, lambda j: backend.preempt(j.external_id))
        for job in Job.objects.filter(pk__in=applied.started).select_related(
            "allocation", "user", "node"
        ):
            _isolated("submit", job, lambda j: self.submit(j, backend))
        report.started += applied.started

    def import_accounting(self, cluster: Cluster, now: dt.datetime) -> None:
        """Every few minutes, charge jobs the backend ran outside ailab (plain ``sbatch``), as a
        background task (``compute.tasks.accounting_import_task``).

        Jobs ailab submitted are charged by ``finish``; the importer's keys make sure a job is
        charged once whichever side sees it first.
        """
        every = float(env_str("AILAB_ACCOUNTING_IMPORT_S", "300"))
        last = self.accounting_imported.get(cluster.pk)
        if last is not None and _seconds(now, last) < every:
            return
        self.accounting_imported[cluster.pk] = now
        slot = int(now.timestamp() // max(every, 1))
        accounting_import_task.enqueue(cluster_id=cluster.pk, key=f"accounting:{cluster.pk}:{slot}")

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
            external_id=external_id, reason="", reason_code=""
        )

    def submit_pending(self, cluster: Cluster, backend: Backend) -> None:
        """For backends that schedule: pending jobs go straight to them."""
        for job in Job.objects.filter(
            cluster=cluster, status=JobStatus.PENDING, external_id="", cancel_requested=False
        ).select_related("allocation", "user"):
            _isolated("submit", job, lambda j: self._submit_queued(j, backend))

    def _submit_queued(self, job: Job, backend: Backend) -> None:
        try:
            external_id = backend.submit(job_spec(job))
        except BackendError as exc:
            r = reasons.submit_failed(exc)
            Job.objects.filter(pk=job.pk).update(reason=r.text, reason_code=r.code)
            return
        Job.objects.filter(pk=job.pk, external_id="").update(external_id=external_id)

    # Tracking: one function per concern, each row's failure isolated ---------

    def track(
        self, cluster: Cluster, backend: Backend, now: dt.datetime | None = None
    ) -> list[int]:
        """Submit started-but-unsubmitted runs, repeat cancel and preempt requests, then poll
        and record what changed; returns the ids of the jobs that finished."""
        now = now or self.clock()
        self.track_unsubmitted(cluster, backend)
        self.track_cancels(cluster, backend)
        self.track_preempts(cluster, backend)
        return self.track_polls(cluster, backend, now)

    def track_unsubmitted(self, cluster: Cluster, backend: Backend) -> None:
        """Runs started but not yet handed over (a crash between the two leaves them so)."""
        for job in _tracked(cluster).filter(status=JobStatus.RUNNING, external_id=""):
            _isolated("submit", job, lambda j: self.submit(j, backend))

    def track_cancels(self, cluster: Cluster, backend: Backend) -> None:
        for job in _tracked(cluster).filter(cancel_requested=True).exclude(external_id=""):
            _isolated("cancel", job, lambda j: backend.cancel(j.external_id))

    def track_preempts(self, cluster: Cluster, backend: Backend) -> None:
        rows = _tracked(cluster).filter(preempt_requested=True, cancel_requested=False)
        for job in rows.exclude(external_id=""):
            _isolated("preempt", job, lambda j: backend.preempt(j.external_id))

    def track_polls(self, cluster: Cluster, backend: Backend, now: dt.datetime) -> list[int]:
        jobs = {j.external_id: j for j in _tracked(cluster).exclude(external_id="")}
        if not jobs:
            return []
        statuses = backend.poll(list(jobs))
        finished: list[int] = []
        for external_id, job in jobs.items():
            status = statuses.get(external_id)
            if status is not None:
                _isolated(
                    "poll", job, partial(self._on_status, status=status, now=now, out=finished)
                )
        return finished

    def _on_status(self, job: Job, *, status: Status, now: dt.datetime, out: list[int]) -> None:
        if status.state.finished:
            if job.status == JobStatus.PENDING:  # a scheduling backend ran it between polls
                self._mark_running(job, status, now)
            if self.finish(job, status, now):
                out.append(job.pk)
        elif status.state == State.RUNNING and job.status == JobStatus.PENDING:
            self._mark_running(job, status, now)
        elif status.state == State.PENDING and status.reason and job.status == JobStatus.PENDING:
            r = reasons.backend(status.reason)
            Job.objects.filter(pk=job.pk).exclude(reason=r.text).update(
                reason=r.text, reason_code=r.code
            )

    def _mark_running(self, job: Job, status: Status, now: dt.datetime) -> None:
        job_transition(
            job,
            JobStatus.RUNNING,
            expect=JobStatus.PENDING,
            started_at=status.started_at or now,
            reason="",
            reason_code="",
        )

    def finish(self, job: Job, status: Status, now: dt.datetime | None = None) -> bool:
        """Record a run's end once: status, GPUs freed, usage charged (unique key)."""
        now = now or self.clock()
        with transaction.atomic():
            current = Job.objects.select_for_update().filter(pk=job.pk).first()
            if current is None or current.status != JobStatus.RUNNING or current.run != job.run:
                return False
            # The GPUs the backend says the run held (Slurm's AllocTRES), else the request:
            # a 0-GPU job Slurm gave GPUs is charged them (tests/slurm/test_journey.py).
            gpus = status.gpus if status.gpus is not None else current.gpus
            view = RunView(gpus, current.started_at, current.reason, current.cancel_requested)
            out = finish_outcome(view, status, now)
            if out.charge:
                usage_charge(
                    allocation=current.allocation,
                    gpu_seconds=out.gpu_seconds,
                    started_at=out.started_at,
                    ended_at=out.ended_at,
                    key=usage_key(current.pk, current.run),
                    job=current,
                    gpus=gpus,
                    gpu_model=current.node.gpu_model if current.node else None,
                )
            GpuAssignment.objects.filter(job=current).delete()
            Cluster.objects.filter(pk=current.cluster_id).update(version=F("version") + 1)
            fields: dict[str, object] = {
                "reason": out.reason.text,
                "reason_code": out.reason.code,
                "exit_code": status.exit_code,
                "attained_gpu_seconds": current.attained_gpu_seconds + out.gpu_seconds,
                "preempt_requested": False,
                "updated_at": now,
            }
            if out.requeue:
                fields.update(
                    preemptions=current.preemptions + 1, external_id="", node=None, gpu_indices=[]
                )
            else:
                fields["ended_at"] = out.ended_at
            won = job_transition(current, out.status, expect=JobStatus.RUNNING, **fields)
        if won and out.status in LEARN_FROM:
            self._learn(current, out)
        return won

    def _learn(self, job: Job, out: Outcome) -> None:
        estimator_observe(
            self.estimator(job.cluster_id),
            pk=job.pk,
            allocation_id=job.allocation_id,
            user_id=job.user_id,
            name=job.name,
            gpus=job.gpus,
            time_limit_s=job.time_limit_s,
            created_at=job.created_at,
            attained_gpu_seconds=job.attained_gpu_seconds,
            run_seconds=(out.ended_at - out.started_at).total_seconds(),
        )
        self.learned.add(job.cluster_id)


def _tracked(cluster: Cluster) -> QuerySet[Job]:
    """Jobs the backend knows or should: running, or pending in a backend that schedules."""
    return (
        Job.objects.filter(cluster=cluster, status__in=[JobStatus.RUNNING, JobStatus.PENDING])
        .exclude(status=JobStatus.PENDING, external_id="")
        .select_related("allocation", "user", "node")
    )


def _isolated(what: str, job: Job, action: Callable[[Job], object]) -> None:
    """Run ``action`` for one job; a failure is logged and stays with that job (the next pass
    retries), so one failing call does not abort the pass for the others."""
    try:
        action(job)
    except Exception:
        log.exception("%s for job %s failed; the next pass retries", what, job.pk)


def _fixed(now: dt.datetime) -> Clock:
    return lambda: now


def _seconds(later: dt.datetime, earlier: dt.datetime) -> float:
    return (later - earlier).total_seconds()


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
