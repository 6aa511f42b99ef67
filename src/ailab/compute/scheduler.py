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
from typing import NamedTuple

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
from ailab.compute.transitions import job_transition
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
UPDATE_CHUNK = 2000  # ids per UPDATE ... WHERE id IN (...), well under SQLite's variable limit
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


class PendingRow(NamedTuple):
    """The columns of a pending job the planner needs (a model instance each is too slow at
    10,000 pending jobs)."""

    pk: int
    allocation_id: int
    gpus: int
    time_limit_s: int
    user_id: int
    name: str
    run: int
    attained_gpu_seconds: int
    preemptions: int
    created_at: dt.datetime
    started_at: dt.datetime | None
    reason: str


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
    reasons: dict[int, str] = field(default_factory=dict)  # pending job id -> shown reason
    cpu_only: list[int] = field(default_factory=list)  # pending jobs with no GPUs


def _allocation_holds(
    allocations: dict[int, Allocation],
    pending: list[PendingRow],
    running: list[Job],
    now: dt.datetime,
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
    for row in pending:  # in submission order: earlier jobs reserve first
        allocation = allocations[row.allocation_id]
        if today < allocation.starts_on:
            holds[row.pk] = f"allocation {allocation.name} starts on {allocation.starts_on}"
        elif today > allocation.ends_on or allocation.state == AllocationState.EXPIRED:
            holds[row.pk] = f"allocation {allocation.name} has expired"
        else:
            need = row.gpus * row.time_limit_s
            reason = budget_hold_reason(allocation, need, left[row.allocation_id])
            if reason:
                holds[row.pk] = reason
            else:
                left[row.allocation_id] -= need
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
        pending = [
            PendingRow(*row)
            for row in Job.objects.filter(
                cluster=cluster, status=JobStatus.PENDING, cancel_requested=False
            )
            .order_by("id")
            .values_list(*PendingRow._fields)
        ]
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
    running_rows = _running_rows(running, now)
    queue: list[PlanJob | PendingJob] = []
    cpu_only: list[int] = []
    for row in pending:
        if row.pk in holds:
            continue
        if row.gpus == 0:  # the planner places GPUs only; these start on any node at once
            cpu_only.append(row.pk)
            continue
        pj = _plan_job(row)
        queue.append(
            PendingJob(pj, float(row.attained_gpu_seconds), row.preemptions)
            if row.preemptions
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
        reasons={j.pk: j.reason for j in pending},
        cpu_only=cpu_only,
        busy={
            (s.node_id, i) for rj in running_rows for s in rj.placement.slots for i in s.gpu_indices
        },
        largest_node=max((n.gpus for n in nodes.values()), default=0),
    )


def _running_rows(running: list[Job], now: dt.datetime) -> list[RunningJob]:
    """Running jobs as the planner sees them: where they hold GPUs and since when."""
    rows = []
    for job in running:
        by_node: dict[str, list[int]] = defaultdict(list)
        for a in job.assignments.all():
            by_node[a.node.name].append(a.gpu_index)
        if not by_node:
            continue
        rows.append(
            RunningJob(
                job=_plan_job(job),
                placement=Placement(tuple(Slot(n, tuple(sorted(i))) for n, i in by_node.items())),
                start_time=(job.started_at or now).timestamp(),
                attained=float(job.attained_gpu_seconds),
            )
        )
    return rows


def _plan_job(job: Job | PendingRow) -> PlanJob:
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
    conflict: bool = False
    assignments: list[GpuAssignment] = field(default_factory=list)


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
    starts: list[tuple[int, Start]] = []
    for d in decisions:
        jid = int(d.job_id)
        if isinstance(d, Preempt):
            n = Job.objects.filter(pk=jid, status=JobStatus.RUNNING).update(
                preempt_requested=True, reason=f"preempting: {d.reason}"
            )
            if n:
                out.preempted.append(jid)
        elif isinstance(d, Start):
            starts.append((jid, d))
        elif isinstance(d, Wait):
            if d.reason == "never fits":
                # Kept pending, not failed: the inventory may grow back (a node returns, the
                # worker is restarted with its GPUs declared); submit refuses such jobs.
                waits[
                    f"never fits: more GPUs than any node has (at most {snap.largest_node})"
                ].append(jid)
            else:
                waits[_reason(snap, d.reason, jid)].append(jid)
    for job_id, reason in snap.held.items():
        waits[reason].append(job_id)
    starts.extend((jid, Start(str(jid), Placement(()))) for jid in snap.cpu_only)
    _start_many(snap, starts, now, out, waits)
    if out.assignments:
        GpuAssignment.objects.bulk_create(out.assignments)
    for reason, ids in waits.items():
        reason = reason[:300]
        changed = [i for i in ids if snap.reasons.get(i) != reason]
        for k in range(0, len(changed), UPDATE_CHUNK):
            Job.objects.filter(
                pk__in=changed[k : k + UPDATE_CHUNK], status=JobStatus.PENDING
            ).update(reason=reason)


def _start_many(
    snap: Snapshot,
    starts: list[tuple[int, Start]],
    now: dt.datetime,
    out: Applied,
    waits: dict[str, list[int]],
) -> None:
    """Mark the started jobs running: rows locked and checked (still pending, same run, not
    being cancelled), then one bulk update; their GPU assignment rows are added by the caller."""
    if not starts:
        return
    ids = [jid for jid, _ in starts]
    current = {
        job.pk: job
        for k in range(0, len(ids), UPDATE_CHUNK)
        for job in Job.objects.select_for_update().filter(pk__in=ids[k : k + UPDATE_CHUNK])
    }
    changed: list[Job] = []
    for jid, d in starts:
        job = current.get(jid)
        if job is None or job.status != JobStatus.PENDING or job.cancel_requested:
            continue
        if job.run != snap.runs.get(jid):
            continue
        slots = d.placement.slots
        if not slots and snap.nodes:  # a job with no GPUs: any node will do
            slots = (Slot(next(iter(snap.nodes)), ()),)
        if len(slots) != 1:
            waits["resources: multi-node placement is not supported by this backend"].append(jid)
            continue
        node = snap.nodes[slots[0].node_id]
        indices = list(slots[0].gpu_indices)
        if any((node.name, i) in snap.busy for i in indices):
            # The plan frees these GPUs by preempting their job in this same pass: start
            # once that job has stopped (a later pass), never on GPUs still in use.
            waits["reserved: waiting for preempted jobs to release its GPUs"].append(jid)
            continue
        job.run, job.node, job.gpu_indices = job.run + 1, node, indices
        changed.append(job)
        out.assignments.extend(GpuAssignment(job_id=jid, node=node, gpu_index=i) for i in indices)
        out.started.append(jid)
    for job in changed:  # locked and checked above; one short guarded UPDATE each
        job_transition(
            job,
            JobStatus.RUNNING,
            expect=JobStatus.PENDING,
            run=job.run,
            node=job.node,
            gpu_indices=job.gpu_indices,
            started_at=now,
            ended_at=None,
            exit_code=None,
            external_id="",
            reason="starting",
            updated_at=now,
        )


def plan_and_apply(
    cluster: Cluster, *, owner: str, now: dt.datetime | None, capabilities: frozenset[str]
) -> Applied:
    now = now or timezone.now()
    snap = snapshot(cluster, now, capabilities)
    if not snap.state.pending and not snap.held and not snap.cpu_only:
        return Applied()
    decisions = plan(snap.state, policy_name(), now.timestamp())
    return apply(snap, decisions, owner=owner, now=now)
