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
from django.utils import timezone

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
from ailab.compute.planning import budget


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
    now = timezone.now()
    return sum(budget.committed_seconds(g, t, s, now) for g, t, s in _running_limits(allocation))


def _running_limits(allocation: Allocation) -> Any:
    return Job.objects.filter(allocation_id=allocation.pk, status=JobStatus.RUNNING).values_list(
        "gpus", "time_limit_s", "started_at"
    )


def allocation_remaining_seconds(allocation: Allocation) -> int:
    """Headroom (``planning.budget``): budget minus charges minus what running jobs may still
    use (Slurm's "safe" limits); the planner holds jobs by the same rule."""
    return budget.headroom(
        budget=allocation.budget_gpu_seconds,
        used=allocation_used_seconds(allocation),
        running=_running_limits(allocation),
        now=timezone.now(),
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
    from ailab.execution.base import LogReader
    from ailab.execution.registry import get_backend

    backend = get_backend(job.cluster.backend)
    data, next_offset = b"", offset
    if isinstance(backend, LogReader) and (job.started_at or job.external_id):
        data, next_offset = backend.read_log(job.backend_job_id, stream, offset, limit)
    return {
        "job_id": job.pk,
        "stream": stream,
        "offset": offset,
        "next_offset": next_offset,
        "data": data.decode("utf-8", errors="replace"),
        "finished": job.finished,
    }


# Cluster -----------------------------------------------------------------


class JobDetailsVisibility:
    """Who sees a job's command, working directory, environment and owner (as Slurm's
    ``PrivateData=jobs``): its owner, the members of its allocation, its organisation's
    founders and lab staff. Everyone else sees that a job holds GPUs, not what it runs."""

    def __init__(self, user: User | None) -> None:
        self.user_id = user.pk if user is not None and user.is_authenticated else None
        self.staff = self.user_id is not None and roles.is_lab_staff(user)  # type: ignore[arg-type]
        self.allocations: set[int] = set()
        self.organisations: set[int] = set()
        if self.user_id is not None and not self.staff:
            self.allocations = set(
                Allocation.objects.filter(members__pk=self.user_id).values_list("pk", flat=True)
            )
            self.organisations = {
                row["organisation_id"]
                for row in _founded_org_ids(user)  # type: ignore[arg-type]
            }

    def __call__(self, job: Job) -> bool:
        if self.user_id is None:
            return False
        return (
            self.staff
            or job.user_id == self.user_id
            or job.allocation_id in self.allocations
            or job.allocation.organisation_id in self.organisations
        )


def job_owner_label(job: Job, visible: bool) -> str:
    """Who runs a job, as the board shows it: the email to those who may see the job's
    details, the Unix account name (as squeue shows it) to everyone else."""
    if visible:
        return job.user.email
    posix = getattr(job.user, "posix", None)  # a reverse one-to-one: absent when unassigned
    return posix.username if posix is not None else "another user"


def cluster_status(
    *, viewer: User | None = None, cluster: Cluster | None = None
) -> list[dict[str, Any]]:
    """Each cluster: nodes x GPUs (who holds each), running jobs and the queue. ``visible``
    holds the ids of the jobs whose details ``viewer`` may see; ``isolated`` says whether
    jobs there run as their owners' Unix accounts."""
    from ailab.execution.registry import backend_isolated

    may_see = JobDetailsVisibility(viewer)
    clusters = [cluster] if cluster else list(Cluster.objects.all())
    out = []
    for c in clusters:
        nodes = list(Node.objects.filter(cluster=c, active=True).select_related("gpu_model"))
        base = Job.objects.filter(cluster=c).select_related(
            "user", "user__posix", "allocation", "node", "cluster"
        )
        running = list(base.filter(status=JobStatus.RUNNING).order_by("started_at"))
        queue = list(base.filter(status=JobStatus.PENDING).order_by("id")[:200])
        visible = {j.pk for j in [*running, *queue] if may_see(j)}
        owners = {j.pk: job_owner_label(j, j.pk in visible) for j in [*running, *queue]}
        for j in [*running, *queue]:  # for templates, which cannot look up by a variable
            j.board_owner = owners[j.pk]  # type: ignore[attr-defined]
        held = {
            (a.node_id, a.gpu_index): a.job
            for a in GpuAssignment.objects.filter(node__cluster=c).select_related(
                "job", "job__user", "job__user__posix", "job__allocation"
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
                        "user": job_owner_label(job, may_see(job)) if job else None,
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
        out.append(
            {
                "cluster": c,
                "nodes": node_rows,
                "running": running,
                "queue": queue,
                "visible": visible,
                "owners": owners,
                "isolated": backend_isolated(c.backend),
            }
        )
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
