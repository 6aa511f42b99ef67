"""Stage 1 of a planning step: read the cluster as the planner needs it (a read model of
frozen dataclasses), in one short transaction that carries the cluster's ``version``."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import NamedTuple

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from ailab.compute.models import (
    Allocation,
    AllocationState,
    Cluster,
    GpuAssignment,
    Job,
    JobStatus,
    Node,
    Usage,
)
from ailab.compute.planning import budget, reasons
from ailab.compute.planning.reasons import Reason
from ailab.scheduling import (
    Capability,
    ClusterState,
    Mode,
    PendingJob,
    Placement,
    RunningJob,
    Slot,
    Tenant,
)
from ailab.scheduling import Job as PlanJob
from ailab.scheduling import Node as PlanNode

FAIRSHARE_WINDOW = dt.timedelta(days=7)
Estimate = Callable[[PlanJob], float]


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
    reason: str
    reason_code: str
    estimate_s: int | None


class RunningRow(NamedTuple):
    pk: int
    allocation_id: int
    gpus: int
    time_limit_s: int
    user_id: int
    name: str
    attained_gpu_seconds: int
    created_at: dt.datetime
    started_at: dt.datetime | None


class NodeRef(NamedTuple):
    pk: int
    name: str
    gpus: int


class Shown(NamedTuple):
    """What a pending job shows now: its reason (code, words) and its estimate."""

    code: str
    text: str
    estimate_s: int | None


def _frozen(d: dict) -> Mapping:  # type: ignore[type-arg]
    return MappingProxyType(d)


@dataclass(frozen=True)
class Snapshot:
    cluster_id: int
    version: int
    state: ClusterState
    nodes: Mapping[str, NodeRef]
    held: Mapping[int, Reason] = field(default_factory=dict)  # job id -> why it may not start
    runs: Mapping[int, int] = field(default_factory=dict)  # pending job id -> its run counter
    shown: Mapping[int, Shown] = field(default_factory=dict)  # pending job id -> shown now
    estimates: Mapping[int, int] = field(default_factory=dict)  # pending job id -> seconds
    cpu_only: tuple[int, ...] = ()  # pending jobs with no GPUs
    busy: frozenset[tuple[str, int]] = frozenset()  # (node, GPU index) held now
    largest_node: int = 0


def _allocation_holds(
    allocations: Mapping[int, Allocation],
    used: Mapping[int, int],
    pending: list[PendingRow],
    running: list[RunningRow],
    now: dt.datetime,
) -> dict[int, Reason]:
    """Pending jobs that must not start: their allocation is not active, or their GPUs x
    time limit exceed its headroom (``planning.budget``); earlier jobs reserve first."""
    by_alloc: dict[int, list[tuple[int, int, dt.datetime | None]]] = defaultdict(list)
    for r in running:
        by_alloc[r.allocation_id].append((r.gpus, r.time_limit_s, r.started_at))
    left = {
        a: budget.headroom(
            budget=al.budget_gpu_seconds, used=used.get(a, 0), running=by_alloc[a], now=now
        )
        for a, al in allocations.items()
    }
    today = timezone.localdate(now)
    holds: dict[int, Reason] = {}
    for row in pending:  # in submission order
        allocation = allocations[row.allocation_id]
        if today < allocation.starts_on:
            holds[row.pk] = reasons.allocation_not_started(allocation.name, allocation.starts_on)
        elif today > allocation.ends_on or allocation.state == AllocationState.EXPIRED:
            holds[row.pk] = reasons.allocation_expired(allocation.name)
        else:
            need = row.gpus * row.time_limit_s
            text = budget.budget_hold_reason(allocation.name, need, left[row.allocation_id])
            if text:
                holds[row.pk] = reasons.budget(text)
            else:
                left[row.allocation_id] -= need
    return holds


def _read(cluster: Cluster, now: dt.datetime) -> tuple:  # type: ignore[type-arg]
    with transaction.atomic():
        version = Cluster.objects.values_list("version", flat=True).get(pk=cluster.pk)
        nodes = {
            n[1]: NodeRef(*n)
            for n in Node.objects.filter(cluster=cluster, active=True)
            .order_by("cluster__name", "name")
            .values_list("pk", "name", "gpus")
        }
        running = [
            RunningRow(*r)
            for r in Job.objects.filter(cluster=cluster, status=JobStatus.RUNNING)
            .order_by("id")
            .values_list(*RunningRow._fields)
        ]
        slots: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for job_id, node_name, index in GpuAssignment.objects.filter(
            job__cluster=cluster
        ).values_list("job_id", "node__name", "gpu_index"):
            slots[job_id][node_name].append(index)
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
        used = _sums(Usage.objects.filter(allocation_id__in=list(allocations)))
        recent = _sums(Usage.objects.filter(cluster=cluster, ended_at__gte=now - FAIRSHARE_WINDOW))
    return version, nodes, running, slots, pending, allocations, used, recent


def _sums(qs: object) -> dict[int, int]:
    return {
        a: int(s or 0)
        for a, s in qs.values("allocation_id")  # type: ignore[attr-defined]
        .annotate(s=Sum("gpu_seconds"))
        .values_list("allocation_id", "s")
    }


def snapshot(
    cluster: Cluster,
    now: dt.datetime,
    capabilities: frozenset[Capability],
    *,
    estimate: Estimate | None = None,
) -> Snapshot:
    """Read the cluster as the planner needs it. ``estimate`` (the live estimator's
    ``predict``) fills each job's run-time estimate."""
    version, nodes, running, slots, pending, allocations, used, recent = _read(cluster, now)
    holds = _allocation_holds(allocations, used, pending, running, now)
    tenants = tuple(
        Tenant(str(a.pk), quota_gpus=a.gpu_quota, weight=float(a.weight))
        for a in sorted(allocations.values(), key=lambda a: a.pk)
    )
    running_jobs = _running_jobs(running, slots, now, estimate)
    queue: list[PlanJob | PendingJob] = []
    cpu_only: list[int] = []
    estimates: dict[int, int] = {}
    for row in pending:
        pj = _plan_job(row, estimate)
        if pj.estimate is not None:
            estimates[row.pk] = round(pj.estimate)
        if row.pk in holds:
            continue
        if row.gpus == 0:  # the planner places GPUs only; these start on any node at once
            cpu_only.append(row.pk)
            continue
        queue.append(
            PendingJob(pj, float(row.attained_gpu_seconds), row.preemptions)
            if row.preemptions
            else pj
        )
    state = ClusterState(
        nodes=tuple(PlanNode(n.name, n.gpus) for n in nodes.values()),
        tenants=tenants,
        running=tuple(running_jobs),
        pending=tuple(queue),
        usage={str(a): float(s) for a, s in recent.items()},
        mode=Mode.SHARED,
        capabilities=frozenset(capabilities),
    )
    return Snapshot(
        cluster_id=cluster.pk,
        version=version,
        state=state,
        nodes=_frozen(nodes),
        held=_frozen(holds),
        runs=_frozen({j.pk: j.run for j in pending}),
        shown=_frozen({j.pk: Shown(j.reason_code, j.reason, j.estimate_s) for j in pending}),
        estimates=_frozen(estimates),
        cpu_only=tuple(cpu_only),
        busy=frozenset(
            (s.node_id, i) for rj in running_jobs for s in rj.placement.slots for i in s.gpu_indices
        ),
        largest_node=max((n.gpus for n in nodes.values()), default=0),
    )


def _running_jobs(
    running: list[RunningRow],
    slots: Mapping[int, Mapping[str, list[int]]],
    now: dt.datetime,
    estimate: Estimate | None,
) -> list[RunningJob]:
    """Running jobs as the planner sees them: where they hold GPUs and since when."""
    out = []
    for job in running:
        by_node = slots.get(job.pk)
        if not by_node:
            continue
        out.append(
            RunningJob(
                job=_plan_job(job, estimate),
                placement=Placement(tuple(Slot(n, tuple(sorted(i))) for n, i in by_node.items())),
                start_time=(job.started_at or now).timestamp(),
                attained=float(job.attained_gpu_seconds),
            )
        )
    return out


def plan_job(
    *,
    pk: int,
    allocation_id: int,
    gpus: int,
    created_at: dt.datetime,
    user_id: int,
    name: str,
    time_limit_s: int,
) -> PlanJob:
    """A job as the pure core sees it: ids as strings, times in epoch seconds."""
    return PlanJob(
        id=str(pk),
        tenant=str(allocation_id),
        gpus=gpus,
        submit_time=created_at.timestamp(),
        user=str(user_id),
        name=name,
        time_limit=float(time_limit_s),
    )


def _plan_job(row: PendingRow | RunningRow, estimate: Estimate | None) -> PlanJob:
    job = plan_job(
        pk=row.pk,
        allocation_id=row.allocation_id,
        gpus=row.gpus,
        created_at=row.created_at,
        user_id=row.user_id,
        name=row.name,
        time_limit_s=row.time_limit_s,
    )
    return job if estimate is None else replace(job, estimate=estimate(job))
