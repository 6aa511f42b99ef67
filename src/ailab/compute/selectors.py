"""Reads for compute, and the access_<entity> functions (DESIGN.md rule 3).

Who sees what: lab staff see everything. An allocation is visible to its members and to
its organisation's founders; a job to its owner, to the members of its allocation and to
the organisation's founders. To anyone else they do not exist (404).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import TruncMonth

from ailab.accounts import roles
from ailab.accounts.models import Membership, Role, User
from ailab.common.errors import NotAuthenticated, NotFound
from ailab.compute import catalogue
from ailab.compute.models import (
    Allocation,
    Cluster,
    GpuAssignment,
    Job,
    JobStatus,
    Node,
    Usage,
)


def require_user(user: User) -> None:
    if not user.is_authenticated or not user.is_active:
        raise NotAuthenticated("authentication required")


def _is_founder(user: User, organisation_id: int) -> bool:
    return Membership.objects.filter(
        user=user, organisation_id=organisation_id, role=Role.FOUNDER
    ).exists()


def _founded_org_ids(user: User) -> Any:
    return Membership.objects.filter(user=user, role=Role.FOUNDER).values("organisation_id")


# Allocations -------------------------------------------------------------


def allocation_used_seconds(allocation: Allocation) -> int:
    total = Usage.objects.filter(allocation_id=allocation.pk).aggregate(s=Sum("gpu_seconds"))["s"]
    return int(total or 0)


def allocation_committed_seconds(allocation: Allocation) -> int:
    """GPU-seconds its running jobs may still use (GPUs x time limit left)."""
    from django.utils import timezone

    now = timezone.now()
    total = 0
    for job in Job.objects.filter(allocation_id=allocation.pk, status=JobStatus.RUNNING).only(
        "gpus", "time_limit_s", "started_at"
    ):
        elapsed = int((now - job.started_at).total_seconds()) if job.started_at else 0
        total += job.gpus * max(job.time_limit_s - elapsed, 0)
    return total


def allocation_remaining_seconds(allocation: Allocation) -> int:
    """Budget minus charges minus what running jobs may still use (Slurm's "safe" limits)."""
    return (
        allocation.budget_gpu_seconds
        - allocation_used_seconds(allocation)
        - allocation_committed_seconds(allocation)
    )


def allocation_balance(allocation: Allocation) -> dict[str, Any]:
    used = allocation_used_seconds(allocation)
    budget = allocation.budget_gpu_seconds
    return {
        "budget_gpu_seconds": budget,
        "used_gpu_seconds": used,
        "balance_gpu_seconds": budget - used,
        "budget_gpu_hours": round(budget / 3600, 2),
        "used_gpu_hours": round(used / 3600, 2),
        "balance_gpu_hours": round((budget - used) / 3600, 2),
        "used_percent": round(100 * used / budget, 1) if budget else 0.0,
        "pflop_days": str(usage_pflop_days(Usage.objects.filter(allocation_id=allocation.pk))),
    }


def may_use_allocation(user: User, allocation: Allocation) -> bool:
    """Lab staff and the allocation's members may submit jobs to it."""
    if not user.is_authenticated:
        return False
    return roles.is_lab_staff(user) or allocation.members.filter(pk=user.pk).exists()


def allocation_list_visible_to(user: User, *, all_: bool = False) -> QuerySet[Allocation]:
    """Mine: allocations I am a member of or whose organisation I founded. Lab staff with
    ``all_`` see every allocation."""
    require_user(user)
    qs = Allocation.objects.select_related("organisation", "cluster").order_by("name")
    if all_ and roles.is_lab_staff(user):
        return qs
    return qs.filter(Q(members=user) | Q(organisation_id__in=_founded_org_ids(user))).distinct()


def access_allocation(user: User, allocation_id: int) -> Allocation:
    require_user(user)
    allocation = (
        Allocation.objects.select_related("organisation", "cluster")
        .filter(pk=allocation_id)
        .first()
    )
    if allocation is None or not (
        roles.is_lab_staff(user)
        or allocation.members.filter(pk=user.pk).exists()
        or _is_founder(user, allocation.organisation_id)
    ):
        raise NotFound("no such allocation", field="allocation_id")
    return allocation


def allocation_by_name_for(user: User, name: str) -> Allocation:
    """The allocation called ``name`` that ``user`` may see (404 naming ``allocation``)."""
    require_user(user)
    for allocation in Allocation.objects.filter(name__iexact=name.strip()):
        try:
            return access_allocation(user, allocation.pk)
        except NotFound:
            continue
    raise NotFound(f"no allocation called {name!r} that you may use", field="allocation")


# Jobs --------------------------------------------------------------------


def may_cancel(user: User, job: Job) -> bool:
    """The job's owner, its organisation's founders and lab staff may cancel it."""
    return job.user_id == user.pk or roles.manages_organisation(
        user, job.allocation.organisation_id
    )


def job_list_visible_to(
    user: User,
    *,
    all_: bool = False,
    status: str | None = None,
    allocation_id: int | None = None,
    active: bool = False,
) -> QuerySet[Job]:
    """My jobs; with ``all_``: every job I may see (those of my allocations; staff: all)."""
    require_user(user)
    qs = Job.objects.select_related("allocation", "user", "node", "cluster")
    if not all_:
        qs = qs.filter(user=user)
    elif not roles.is_lab_staff(user):
        qs = qs.filter(
            Q(user=user)
            | Q(allocation__members=user)
            | Q(allocation__organisation_id__in=_founded_org_ids(user))
        ).distinct()
    if status:
        qs = qs.filter(status=status)
    if active:
        qs = qs.filter(status__in=[JobStatus.PENDING, JobStatus.RUNNING])
    if allocation_id is not None:
        qs = qs.filter(allocation_id=allocation_id)
    return qs.order_by("-id")


def access_job(user: User, job_id: int) -> Job:
    require_user(user)
    job = (
        Job.objects.select_related(
            "allocation", "allocation__organisation", "user", "node", "cluster"
        )
        .filter(pk=job_id)
        .first()
    )
    if job is None or not (
        job.user_id == user.pk
        or roles.is_lab_staff(user)
        or job.allocation.members.filter(pk=user.pk).exists()
        or _is_founder(user, job.allocation.organisation_id)
    ):
        raise NotFound("no such job", field="job_id")
    return job


def job_log(
    job: Job, *, stream: str = "stdout", offset: int = 0, limit: int = 65536
) -> dict[str, Any]:
    """A slice of the job's log from byte ``offset``; ``next_offset`` is where to go on."""
    from ailab.execution.registry import get_backend

    backend = get_backend(job.cluster.backend)
    reader = getattr(backend, "read_log", None)
    data, next_offset = b"", offset
    if reader is not None and (job.started_at or job.external_id):
        data, next_offset = reader(job.backend_job_id, stream, offset, limit)
    return {
        "job_id": job.pk,
        "stream": stream,
        "offset": offset,
        "next_offset": next_offset,
        "data": data.decode("utf-8", errors="replace"),
        "finished": job.finished,
    }


# Cluster -----------------------------------------------------------------


def cluster_status(*, cluster: Cluster | None = None) -> list[dict[str, Any]]:
    """Each cluster: nodes x GPUs (who holds each), running jobs and the queue."""
    clusters = [cluster] if cluster else list(Cluster.objects.all())
    out = []
    for c in clusters:
        nodes = list(Node.objects.filter(cluster=c, active=True).select_related("gpu_model"))
        held = {
            (a.node_id, a.gpu_index): a.job
            for a in GpuAssignment.objects.filter(node__cluster=c).select_related(
                "job", "job__user", "job__allocation"
            )
        }
        node_rows = []
        for node in nodes:
            gpus = []
            for index in range(node.gpus):
                job = held.get((node.pk, index))
                gpus.append(
                    {
                        "index": index,
                        "job_id": job.pk if job else None,
                        "user": job.user.email if job else None,
                        "allocation": job.allocation.name if job else None,
                    }
                )
            node_rows.append(
                {
                    "name": node.name,
                    "gpu_model": node.gpu_model.name if node.gpu_model else "",
                    "gpus": gpus,
                    "free": sum(1 for g in gpus if g["job_id"] is None),
                }
            )
        base = Job.objects.filter(cluster=c).select_related("user", "allocation", "node", "cluster")
        running = list(base.filter(status=JobStatus.RUNNING).order_by("started_at"))
        queue = list(base.filter(status=JobStatus.PENDING).order_by("id")[:200])
        out.append({"cluster": c, "nodes": node_rows, "running": running, "queue": queue})
    return out


# Usage -------------------------------------------------------------------


def usage_pflop_days(qs: QuerySet[Usage]) -> Decimal:
    total = Decimal(0)
    for row in qs.values("gpu_model__tflops_bf16").annotate(s=Sum("gpu_seconds")):
        total += catalogue.pflop_days(
            int(row["s"] or 0), row["gpu_model__tflops_bf16"] or Decimal(0)
        )
    return total


def usage_summary(
    *, by: str, allocation: Allocation | None = None, organisation_id: int | None = None
) -> list[dict[str, Any]]:
    """GPU-hours and PFLOP-days grouped ``by`` "allocation", "organisation" or "month",
    optionally for one allocation or one organisation."""
    qs = Usage.objects.all()
    if allocation is not None:
        qs = qs.filter(allocation_id=allocation.pk)
    if organisation_id is not None:
        qs = qs.filter(allocation__organisation_id=organisation_id)
    key = {
        "allocation": "allocation__name",
        "organisation": "allocation__organisation__name",
        "month": "month",
    }[by]
    if by == "month":
        qs = qs.annotate(month=TruncMonth("ended_at"))
    sums: dict[Any, int] = defaultdict(int)
    pflop: dict[Any, Decimal] = defaultdict(Decimal)
    for row in qs.values(key, "gpu_model__tflops_bf16").annotate(s=Sum("gpu_seconds")):
        seconds = int(row["s"] or 0)
        sums[row[key]] += seconds
        pflop[row[key]] += catalogue.pflop_days(
            seconds, row["gpu_model__tflops_bf16"] or Decimal(0)
        )
    return [
        {
            by: (k.date().isoformat()[:7] if isinstance(k, dt.datetime) else k),
            "gpu_seconds": sums[k],
            "gpu_hours": round(sums[k] / 3600, 2),
            "pflop_days": pflop[k],
        }
        for k in sorted(sums, key=str)
    ]


def burn_down(allocation: Allocation, *, today: dt.date | None = None) -> dict[str, Any]:
    """Daily cumulative usage and a forecast at the mean rate of the last 7 days."""
    from django.utils import timezone

    today = today or timezone.localdate()
    rows = (
        Usage.objects.filter(allocation_id=allocation.pk)
        .values_list("ended_at", "gpu_seconds")
        .order_by("ended_at")
    )
    per_day: dict[dt.date, int] = defaultdict(int)
    for ended, seconds in rows:
        per_day[timezone.localdate(ended)] += seconds
    points: list[tuple[dt.date, int]] = []
    total = 0
    day = allocation.starts_on
    last = min(today, allocation.ends_on)
    while day <= last:
        total += per_day.get(day, 0)
        points.append((day, total))
        day += dt.timedelta(days=1)
    window = [per_day.get(today - dt.timedelta(days=i), 0) for i in range(7)]
    rate = sum(window) / 7
    forecast: list[tuple[dt.date, int]] = []
    if points and today < allocation.ends_on:
        remaining_days = (allocation.ends_on - today).days
        forecast = [(today, total), (allocation.ends_on, int(total + rate * remaining_days))]
    return {
        "budget": allocation.budget_gpu_seconds,
        "points": points,
        "forecast": forecast,
        "rate_per_day": rate,
        "starts_on": allocation.starts_on,
        "ends_on": allocation.ends_on,
    }


def home_panel(*, user: User) -> dict[str, Any]:
    rows = cluster_status()
    total = sum(len(n["gpus"]) for r in rows for n in r["nodes"])
    free = sum(n["free"] for r in rows for n in r["nodes"])
    mine = (
        list(allocation_list_visible_to(user)[:5])
        if user.is_authenticated and user.is_active
        else []
    )
    return {
        "template": "compute/home_panel.html",
        "gpus_total": total,
        "gpus_free": free,
        "running": sum(len(r["running"]) for r in rows),
        "queued": sum(len(r["queue"]) for r in rows),
        "my_allocations": mine,
    }
