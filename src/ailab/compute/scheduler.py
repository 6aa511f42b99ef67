"""One planning step for a cluster: snapshot -> ``ailab.scheduling.plan()`` -> guarded apply.

The snapshot is read in one short transaction and carries the cluster's ``version``. Applying
the decisions bumps that version with a compare-and-set: if anything else applied decisions
(or finished a job) in between, nothing is applied and the next pass plans again. Each started
job's GPUs are rows of ``GpuAssignment``, unique on (node, index), so even a bug elsewhere
cannot double-book a GPU: the database refuses and the whole apply rolls back.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from ailab.compute.jobs import budget_hold_reason
from ailab.compute.models import (
    Allocation,
    AllocationState,
    Cluster,
    GpuAssignment,
    Job,
    JobStatus,
    Node,
    SchedulerLease,
    Usage,
)
from ailab.config.env import env_str
from ailab.scheduling import (
    POLICIES,
    ClusterState,
    Decision,
    Mode,
    PendingJob,
    Placement,
    Preempt,
    RunningJob,
    Slot,
    Start,
    Tenant,
    Wait,
    plan,
)
from ailab.scheduling import Capability as PlanCapability
from ailab.scheduling import Job as PlanJob
from ailab.scheduling import Node as PlanNode

log = logging.getLogger(__name__)

FAIRSHARE_WINDOW = dt.timedelta(days=7)
REASONS = {
    "priority": "priority: jobs ahead of it in the policy's order",
    "resources": "resources: no node has enough free GPUs now",
    "quota": "quota: its allocation is at its guaranteed GPUs and none are free to borrow",
}


def policy_name() -> str:
    """``AILAB_SCHEDULER_POLICY`` (default ``ailab``; ``fifo`` if that is not available)."""
    name = env_str("AILAB_SCHEDULER_POLICY", "ailab")
    if name not in POLICIES:
        if name == "ailab":
            return "fifo"
        raise KeyError(f"AILAB_SCHEDULER_POLICY: unknown policy {name!r}")
    return name


@dataclass
class Snapshot:
    cluster_id: int
    version: int
    state: ClusterState
    nodes: dict[str, Node]
    held: dict[int, str] = field(default_factory=dict)  # job id -> reason it may not start
    runs: dict[int, int] = field(default_factory=dict)  # pending job id -> its run counter
    largest_node: int = 0
    busy: set[tuple[str, int]] = field(default_factory=set)  # (node, GPU index) held now


def _allocation_holds(
    allocations: dict[int, Allocation], pending: list[Job], running: list[Job], now: dt.datetime
) -> dict[int, str]:
    """Pending jobs that must not start: their allocation is not active, or their GPUs x
    time limit exceed what is left once running jobs' limits are reserved ("safe" limits)."""
    used = dict(
        Usage.objects.filter(allocation_id__in=list(allocations))
        .values("allocation_id")
        .annotate(s=Sum("gpu_seconds"))
        .values_list("allocation_id", "s")
    )
    left: dict[int, int] = {
        a: al.budget_gpu_seconds - int(used.get(a) or 0) for a, al in allocations.items()
    }
    for job in running:
        elapsed = int((now - job.started_at).total_seconds()) if job.started_at else 0
        if job.allocation_id in left:
            left[job.allocation_id] -= job.gpus * max(job.time_limit_s - elapsed, 0)
    today = timezone.localdate(now)
    holds: dict[int, str] = {}
    for job in pending:  # in submission order: earlier jobs reserve first
        allocation = allocations[job.allocation_id]
        if today < allocation.starts_on:
            holds[job.pk] = f"allocation {allocation.name} starts on {allocation.starts_on}"
        elif today > allocation.ends_on or allocation.state == AllocationState.EXPIRED:
            holds[job.pk] = f"allocation {allocation.name} has expired"
        else:
            need = job.gpus * job.time_limit_s
            reason = budget_hold_reason(allocation, need, left[job.allocation_id])
            if reason:
                holds[job.pk] = reason
            else:
                left[job.allocation_id] -= need
    return holds


def snapshot(cluster: Cluster, now: dt.datetime, capabilities: frozenset[str]) -> Snapshot:
    """Read the cluster as the planner needs it, in one short transaction."""
    with transaction.atomic():
        version = Cluster.objects.values_list("version", flat=True).get(pk=cluster.pk)
        nodes = {n.name: n for n in Node.objects.filter(cluster=cluster, active=True)}
        running = list(
            Job.objects.filter(cluster=cluster, status=JobStatus.RUNNING).prefetch_related(
                "assignments__node"
            )
        )
        pending = list(
            Job.objects.filter(cluster=cluster, status=JobStatus.PENDING, cancel_requested=False)
            .order_by("id")
            .only(
                "id",
                "allocation_id",
                "gpus",
                "time_limit_s",
                "user_id",
                "name",
                "run",
                "attained_gpu_seconds",
                "preemptions",
                "created_at",
            )
        )
        alloc_ids = {j.allocation_id for j in pending} | {j.allocation_id for j in running}
        allocations = {a.pk: a for a in Allocation.objects.filter(pk__in=alloc_ids)}
        holds = _allocation_holds(allocations, pending, running, now)
        since = now - FAIRSHARE_WINDOW
        usage = {
            str(a): float(s or 0)
            for a, s in Usage.objects.filter(cluster=cluster, ended_at__gte=since)
            .values("allocation_id")
            .annotate(s=Sum("gpu_seconds"))
            .values_list("allocation_id", "s")
        }
    tenants = tuple(
        Tenant(str(a.pk), quota_gpus=a.gpu_quota, weight=float(a.weight))
        for a in sorted(allocations.values(), key=lambda a: a.pk)
    )
    running_rows = []
    for job in running:
        by_node: dict[str, list[int]] = defaultdict(list)
        for a in job.assignments.all():
            by_node[a.node.name].append(a.gpu_index)
        if not by_node:
            continue
        running_rows.append(
            RunningJob(
                job=_plan_job(job),
                placement=Placement(tuple(Slot(n, tuple(sorted(i))) for n, i in by_node.items())),
                start_time=(job.started_at or now).timestamp(),
                attained=float(job.attained_gpu_seconds),
            )
        )
    queue: list[PlanJob | PendingJob] = []
    for job in pending:
        if job.pk in holds:
            continue
        pj = _plan_job(job)
        queue.append(
            PendingJob(pj, float(job.attained_gpu_seconds), job.preemptions)
            if job.preemptions
            else pj
        )
    known = {c.value for c in PlanCapability}
    caps = frozenset(PlanCapability(c) for c in capabilities if c in known)
    state = ClusterState(
        nodes=tuple(PlanNode(n.name, n.gpus) for n in nodes.values()),
        tenants=tenants,
        running=tuple(running_rows),
        pending=tuple(queue),
        usage=usage,
        mode=Mode.SHARED,
        capabilities=caps,
    )
    return Snapshot(
        cluster_id=cluster.pk,
        version=version,
        state=state,
        nodes=nodes,
        held=holds,
        runs={j.pk: j.run for j in pending},
        busy={
            (s.node_id, i) for rj in running_rows for s in rj.placement.slots for i in s.gpu_indices
        },
        largest_node=max((n.gpus for n in nodes.values()), default=0),
    )


def _plan_job(job: Job) -> PlanJob:
    return PlanJob(
        id=str(job.pk),
        tenant=str(job.allocation_id),
        gpus=job.gpus,
        submit_time=job.created_at.timestamp(),
        user=str(job.user_id),
        name=job.name,
        time_limit=float(job.time_limit_s),
    )


@dataclass
class Applied:
    started: list[int] = field(default_factory=list)
    preempted: list[int] = field(default_factory=list)
    rejected: list[int] = field(default_factory=list)
    conflict: bool = False


def _reason(snap: Snapshot, raw: str, job_id: int) -> str:
    if raw.startswith("reserved for job"):
        return f"reserved: GPUs held back for job {raw.rsplit(' ', 1)[-1]}"
    return REASONS.get(raw, raw)


def apply(snap: Snapshot, decisions: list[Decision], *, owner: str, now: dt.datetime) -> Applied:
    """Apply decisions if the snapshot is still current and our lease holds; else nothing."""
    out = Applied()
    try:
        with transaction.atomic():
            if not SchedulerLease.objects.filter(
                cluster_id=snap.cluster_id, owner=owner, expires_at__gt=now
            ).exists():
                out.conflict = True
                return out
            bumped = Cluster.objects.filter(pk=snap.cluster_id, version=snap.version).update(
                version=F("version") + 1
            )
            if bumped != 1:
                out.conflict = True
                return out
            _apply_decisions(snap, decisions, now, out)
    except IntegrityError:
        log.warning("cluster %s: a GPU was already assigned; nothing applied", snap.cluster_id)
        return Applied(conflict=True)
    return out


def _apply_decisions(
    snap: Snapshot, decisions: list[Decision], now: dt.datetime, out: Applied
) -> None:
    waits: dict[str, list[int]] = defaultdict(list)
    for d in decisions:
        jid = int(d.job_id)
        if isinstance(d, Preempt):
            n = Job.objects.filter(pk=jid, status=JobStatus.RUNNING).update(
                preempt_requested=True, reason=f"preempting: {d.reason}"
            )
            if n:
                out.preempted.append(jid)
        elif isinstance(d, Start):
            _start(snap, jid, d, now, out)
        elif isinstance(d, Wait):
            if d.reason == "never fits":
                reason = f"never fits: more GPUs than any node has (at most {snap.largest_node})"
                n = Job.objects.filter(pk=jid, status=JobStatus.PENDING).update(
                    status=JobStatus.FAILED, reason=reason, ended_at=now
                )
                if n:
                    out.rejected.append(jid)
            else:
                waits[_reason(snap, d.reason, jid)].append(jid)
    for job_id, reason in snap.held.items():
        waits[reason].append(job_id)
    for reason, ids in waits.items():
        Job.objects.filter(pk__in=ids, status=JobStatus.PENDING).exclude(reason=reason).update(
            reason=reason[:300]
        )


def _start(snap: Snapshot, jid: int, d: Start, now: dt.datetime, out: Applied) -> None:
    slots = d.placement.slots
    if not slots and snap.nodes:  # a job with no GPUs: any node will do
        slots = (Slot(next(iter(snap.nodes)), ()),)
    if len(slots) != 1:
        Job.objects.filter(pk=jid, status=JobStatus.PENDING).update(
            reason="resources: multi-node placement is not supported by this backend"
        )
        return
    node = snap.nodes[slots[0].node_id]
    indices = list(slots[0].gpu_indices)
    if any((node.name, i) in snap.busy for i in indices):
        # The plan frees these GPUs by preempting their job in this same pass: start once
        # that job has stopped (a later pass), never on GPUs still in use.
        Job.objects.filter(pk=jid, status=JobStatus.PENDING).update(
            reason="reserved: waiting for preempted jobs to release its GPUs"
        )
        return
    run = snap.runs[jid]
    n = Job.objects.filter(
        pk=jid, status=JobStatus.PENDING, run=run, cancel_requested=False
    ).update(
        status=JobStatus.RUNNING,
        run=run + 1,
        node=node,
        gpu_indices=indices,
        started_at=now,
        ended_at=None,
        exit_code=None,
        external_id="",
        reason="starting",
        updated_at=now,
    )
    if n != 1:
        return
    GpuAssignment.objects.bulk_create(
        [GpuAssignment(job_id=jid, node=node, gpu_index=i) for i in indices]
    )
    out.started.append(jid)


def plan_and_apply(
    cluster: Cluster, *, owner: str, now: dt.datetime | None, capabilities: frozenset[str]
) -> Applied:
    now = now or timezone.now()
    snap = snapshot(cluster, now, capabilities)
    if not snap.state.pending and not snap.held:
        return Applied()
    decisions = plan(snap.state, policy_name(), now.timestamp())
    return apply(snap, decisions, owner=owner, now=now)
