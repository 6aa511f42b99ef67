"""Writes for compute: clusters and inventory, allocations, usage (one transaction each).

Job services live in :mod:`ailab.compute.jobs` and are re-exported here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils import timezone

from ailab.accounts import roles
from ailab.accounts.models import Organisation, User
from ailab.common.errors import PermissionDenied, ValidationError
from ailab.common.validation import require_text
from ailab.compute import catalogue, hooks, notifications
from ailab.compute.models import (
    ACCOUNT_MAX,
    NAME_MAX,
    Allocation,
    AllocationState,
    Backend,
    Cluster,
    GpuModel,
    Job,
    Node,
    SchedulerLease,
    Usage,
)
from ailab.compute.selectors import allocation_used_seconds
from ailab.compute.transitions import allocation_transition
from ailab.config.env import env_str
from ailab.execution.base import NodeInfo

# Clusters and inventory --------------------------------------------------


def cluster_default() -> Cluster:
    """The lab's default cluster (``AILAB_CLUSTER``, default ``local``; backend from
    ``AILAB_BACKEND``, default ``local``), created on first use."""
    name = env_str("AILAB_CLUSTER", "local")
    backend = env_str("AILAB_BACKEND", Backend.LOCAL)
    if backend not in Backend.values:
        raise ValidationError(f"unknown backend {backend!r}", field="AILAB_BACKEND")
    cluster = Cluster.objects.filter(name=name).first()
    if cluster is None:
        try:
            with transaction.atomic():
                cluster = Cluster.objects.create(name=name, backend=backend)
                SchedulerLease.objects.create(cluster=cluster)
        except IntegrityError:
            cluster = Cluster.objects.get(name=name)
    return cluster


def gpu_model_for(name: str) -> GpuModel | None:
    if not name:
        return None
    memory, tflops = catalogue.lookup(name)
    model, _ = GpuModel.objects.get_or_create(
        name=name[:NAME_MAX], defaults={"memory_mb": memory, "tflops_bf16": tflops}
    )
    return model


@transaction.atomic
def inventory_sync(*, cluster: Cluster, nodes: Sequence[NodeInfo]) -> list[Node]:
    """Make the cluster's node rows match what the backend reports; nodes it no longer
    reports are marked inactive (kept, since jobs and usage refer to them)."""
    seen: list[Node] = []
    for info in nodes:
        model = gpu_model_for(info.gpu_model)
        node, _ = Node.objects.update_or_create(
            cluster=cluster,
            name=info.name,
            defaults={
                "gpus": info.gpus,
                "gpu_model": model,
                "cpus": info.cpus,
                "memory_mb": info.memory_mb,
                "active": True,
            },
        )
        seen.append(node)
    Node.objects.filter(cluster=cluster).exclude(pk__in=[n.pk for n in seen]).update(active=False)
    return seen


# Allocations -------------------------------------------------------------

_ACCOUNT_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def _account_from(name: str, cluster: Cluster) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "alloc"
    if not base[0].isalpha():
        base = f"a_{base}"
    base = base[:ACCOUNT_MAX]
    account, n = base, 1
    while Allocation.objects.filter(cluster=cluster, account=account).exists():
        n += 1
        suffix = f"_{n}"
        account = base[: ACCOUNT_MAX - len(suffix)] + suffix
    return account


def _positive_int(value: object, field: str, *, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError("must be a whole number", field=field)
    if value < 0 or (value == 0 and not allow_zero):
        raise ValidationError(
            "must be greater than zero" if not allow_zero else "must be >= 0", field=field
        )
    return value


def _weight(value: Decimal | float | int) -> Decimal:
    try:
        weight = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError("must be a number", field="weight") from exc
    if not weight.is_finite() or weight <= 0 or weight > Decimal("9999"):
        raise ValidationError("must be greater than 0 and at most 9999", field="weight")
    return weight.quantize(Decimal("0.001"))


def allocation_state_for(
    allocation: Allocation, *, today: dt.date | None = None, used: int | None = None
) -> str:
    """The state an allocation should be in now: dates first, then its budget."""
    today = today or timezone.localdate()
    if today < allocation.starts_on:
        return AllocationState.PENDING
    if today > allocation.ends_on:
        return AllocationState.EXPIRED
    used = allocation_used_seconds(allocation) if used is None else used
    if used >= allocation.budget_gpu_seconds:
        return AllocationState.EXHAUSTED
    return AllocationState.ACTIVE


@transaction.atomic
def allocation_grant(
    *,
    actor: User,
    organisation: Organisation,
    name: str,
    gpu_hours: int,
    starts_on: dt.date,
    ends_on: dt.date,
    gpu_quota: int = 0,
    weight: Decimal | float = 1,
    members: Iterable[User] = (),
    cluster: Cluster | None = None,
    note: str = "",
    account: str = "",
) -> Allocation:
    """Grant ``gpu_hours`` GPU-hours to an organisation's team; lab staff only.

    The budget is stored as integer GPU-seconds. ``account`` (a Slurm account name) is
    derived from ``name`` unless given. Hooks in ``compute.hooks`` run after commit.
    """
    if not roles.is_lab_staff(actor):
        raise PermissionDenied("only lab staff may grant allocations")
    name = require_text(name, field="name", max_length=NAME_MAX)
    hours = _positive_int(gpu_hours, "gpu_hours")
    if not isinstance(starts_on, dt.date) or not isinstance(ends_on, dt.date):
        raise ValidationError("must be a date", field="starts_on")
    if ends_on < starts_on:
        raise ValidationError("must be on or after starts_on", field="ends_on")
    quota = _positive_int(gpu_quota, "gpu_quota", allow_zero=True)
    cluster = cluster or cluster_default()
    if Allocation.objects.filter(cluster=cluster, name__iexact=name).exists():
        raise ValidationError("an allocation with this name exists on this cluster", field="name")
    if account:
        if not _ACCOUNT_RE.match(account):
            raise ValidationError(
                "lowercase letters, digits and _, starting with a letter, at most 32",
                field="account",
            )
        if Allocation.objects.filter(cluster=cluster, account=account).exists():
            raise ValidationError("this account exists on this cluster", field="account")
    else:
        account = _account_from(name, cluster)
    allocation = Allocation(
        cluster=cluster,
        organisation=organisation,
        name=name,
        account=account,
        budget_gpu_seconds=hours * 3600,
        starts_on=starts_on,
        ends_on=ends_on,
        gpu_quota=quota,
        weight=_weight(weight),
        note=require_text(note, field="note", max_length=2000, blank=True),
        created_by=actor,
    )
    allocation.state = allocation_state_for(allocation, used=0)
    allocation.save()
    member_list = list(members)
    if member_list:
        allocation.members.add(*member_list)
    hooks.allocation_changed(allocation.pk)
    return allocation


@transaction.atomic
def allocation_update(
    *,
    actor: User,
    allocation: Allocation,
    gpu_hours: int | None = None,
    ends_on: dt.date | None = None,
    gpu_quota: int | None = None,
    weight: Decimal | float | None = None,
) -> Allocation:
    """Change an allocation's budget, end date, quota or weight; lab staff only."""
    if not roles.is_lab_staff(actor):
        raise PermissionDenied("only lab staff may change allocations")
    allocation = Allocation.objects.select_for_update().get(pk=allocation.pk)
    if gpu_hours is not None:
        allocation.budget_gpu_seconds = _positive_int(gpu_hours, "gpu_hours") * 3600
    if ends_on is not None:
        if ends_on < allocation.starts_on:
            raise ValidationError("must be on or after starts_on", field="ends_on")
        allocation.ends_on = ends_on
    if gpu_quota is not None:
        allocation.gpu_quota = _positive_int(gpu_quota, "gpu_quota", allow_zero=True)
    if weight is not None:
        allocation.weight = _weight(weight)
    allocation.save(
        update_fields=["budget_gpu_seconds", "ends_on", "gpu_quota", "weight", "updated_at"]
    )
    state = allocation_state_for(allocation)
    if state != allocation.state:  # locked above: the transition wins
        allocation_transition(allocation, state, expect=allocation.state)
    hooks.allocation_changed(allocation.pk)
    return allocation


@transaction.atomic
def allocation_member_set(
    *, actor: User, allocation: Allocation, user: User, member: bool = True
) -> Allocation:
    """Add (or with ``member=False`` remove) a user; lab staff or the organisation's founders."""
    if not roles.manages_organisation(actor, allocation.organisation_id):
        raise PermissionDenied("only lab staff or the organisation's founders manage members")
    if member:
        allocation.members.add(user)
    else:
        allocation.members.remove(user)
    hooks.allocation_changed(allocation.pk)
    return allocation


def allocation_refresh_states(*, today: dt.date | None = None) -> int:
    """Bring every allocation's stored state up to date; returns how many changed."""
    changed = 0
    for allocation in Allocation.objects.all():
        state = allocation_state_for(allocation, today=today)
        if state != allocation.state:
            with transaction.atomic():
                if allocation_transition(allocation, state, expect=allocation.state):
                    hooks.allocation_changed(allocation.pk)
                    changed += 1
    return changed


# Usage -------------------------------------------------------------------


def _aware(value: dt.datetime, field: str) -> dt.datetime:
    if not isinstance(value, dt.datetime) or timezone.is_naive(value):
        raise ValidationError("must be an aware datetime", field=field)
    return value


@transaction.atomic
def usage_charge(
    *,
    allocation: Allocation,
    gpu_seconds: int,
    started_at: dt.datetime,
    ended_at: dt.datetime,
    key: str,
    job: Job | None = None,
    gpus: int = 0,
    gpu_model: GpuModel | None = None,
) -> tuple[Usage, bool]:
    """Charge GPU-seconds to an allocation exactly once per ``key`` (unique per cluster).

    Returns ``(usage, created)``: a second call with the same key returns the first record
    and charges nothing (the database's unique constraint decides, not a check-then-insert).
    Crossing 80% or 100% of the budget mails the owners once each, after commit.
    """
    gpu_seconds = _positive_int(gpu_seconds, "gpu_seconds", allow_zero=True)
    key = require_text(key, field="key", max_length=200)
    started_at, ended_at = _aware(started_at, "started_at"), _aware(ended_at, "ended_at")
    if ended_at < started_at:
        raise ValidationError("must not be before started_at", field="ended_at")
    existing = Usage.objects.filter(cluster_id=allocation.cluster_id, key=key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            usage = Usage.objects.create(
                cluster_id=allocation.cluster_id,
                allocation=allocation,
                job=job,
                key=key,
                gpu_seconds=gpu_seconds,
                gpus=gpus,
                gpu_model=gpu_model,
                started_at=started_at,
                ended_at=ended_at,
            )
    except IntegrityError:
        return Usage.objects.get(cluster_id=allocation.cluster_id, key=key), False
    _after_charge(allocation.pk)
    return usage, True


def _after_charge(allocation_id: int) -> None:
    allocation = (
        Allocation.objects.select_for_update(of=("self",))
        .select_related("organisation")
        .get(pk=allocation_id)
    )
    used = allocation_used_seconds(allocation)
    now = timezone.now()
    updates: dict[str, object] = {}
    for percent, field in ((80, "notified_80_at"), (100, "notified_100_at")):
        if used * 100 >= allocation.budget_gpu_seconds * percent and not getattr(allocation, field):
            updates[field] = now
            notifications.budget_notice(allocation, percent, at=now)
    state = allocation_state_for(allocation, used=used)
    if state != allocation.state:
        # locked above: the transition wins; the notice times are written with it
        allocation_transition(allocation, state, expect=allocation.state, **updates)
        hooks.allocation_changed(allocation_id)
    elif updates:
        Allocation.objects.filter(pk=allocation_id).update(**updates)


from ailab.compute.jobs import job_cancel, job_submit  # noqa: E402

__all__ = [
    "allocation_grant",
    "allocation_member_set",
    "allocation_refresh_states",
    "allocation_update",
    "cluster_default",
    "inventory_sync",
    "job_cancel",
    "job_submit",
    "usage_charge",
]
