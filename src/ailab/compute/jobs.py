"""Writes for jobs: submit and cancel (the scheduler loop does the rest, in ``loop.py``)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from ailab.accounts.models import User
from ailab.accounts.posix import posix_account_require
from ailab.common.errors import PermissionDenied, ValidationError
from ailab.common.validation import refuse_control_chars, require_text
from ailab.compute.models import (
    NAME_MAX,
    Allocation,
    AllocationState,
    Job,
    JobStatus,
    Node,
    ReasonCode,
)
from ailab.compute.planning.budget import budget_hold_reason
from ailab.compute.selectors import (
    allocation_remaining_seconds,
    may_cancel,
    may_use_allocation,
)
from ailab.compute.transitions import job_transition

log = logging.getLogger(__name__)

MAX_TIME_LIMIT_S = 30 * 86400
MAX_COMMAND_ITEMS = 1000
MAX_ARG_CHARS = 8192
MAX_ENV_VARS = 200
MAX_ENV_BYTES = 32 * 1024
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _command(command: object) -> list[str]:
    if not isinstance(command, list | tuple) or not command:
        raise ValidationError("must be a non-empty list of strings", field="command")
    if len(command) > MAX_COMMAND_ITEMS:
        raise ValidationError(f"at most {MAX_COMMAND_ITEMS} arguments", field="command")
    for arg in command:
        if not isinstance(arg, str):
            raise ValidationError("must be a list of strings", field="command")
        if len(arg) > MAX_ARG_CHARS or "\x00" in arg:
            raise ValidationError(
                f"each argument at most {MAX_ARG_CHARS} characters, no NUL", field="command"
            )
    if not command[0].strip():
        raise ValidationError("the program must not be empty", field="command")
    return list(command)


def _env(env: object) -> dict[str, str]:
    if env is None:
        return {}
    if not isinstance(env, Mapping):
        raise ValidationError("must be an object of strings", field="env")
    if len(env) > MAX_ENV_VARS:
        raise ValidationError(f"at most {MAX_ENV_VARS} variables", field="env")
    size = 0
    for key, value in env.items():
        if not isinstance(key, str) or not _ENV_NAME.match(key):
            raise ValidationError(f"bad variable name {key!r}", field="env")
        if not isinstance(value, str):
            raise ValidationError(f"{key}: value must be a string", field="env")
        refuse_control_chars(value, field=f"env.{key}", allow_tab=True)
        if key == "CUDA_VISIBLE_DEVICES":
            raise ValidationError("CUDA_VISIBLE_DEVICES is set by the scheduler", field="env")
        size += len(key.encode()) + len(value.encode()) + 2
    if size > MAX_ENV_BYTES:
        raise ValidationError(f"at most {MAX_ENV_BYTES} bytes in all (got {size})", field="env")
    return dict(env)


def _int(value: object, field: str, *, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError("must be a whole number", field=field)
    if value < low:
        raise ValidationError(f"must be at least {low}", field=field)
    if high is not None and value > high:
        raise ValidationError(f"must be at most {high}", field=field)
    return value


def _fits_a_node(allocation: Allocation, gpus: int, cpus: int, memory_mb: int | None) -> None:
    """Refuse a request no active node of the cluster could ever hold: its CPUs or memory
    (nodes that report none are not counted against)."""
    nodes = list(
        Node.objects.filter(
            cluster_id=allocation.cluster_id, active=True, gpus__gte=gpus
        ).values_list("cpus", "memory_mb")
    )
    if not nodes:
        return
    known_cpus = [c for c, _ in nodes if c]
    if known_cpus and len(known_cpus) == len(nodes) and cpus > max(known_cpus):
        raise ValidationError(
            f"more CPUs than any node with {gpus} GPUs has (at most {max(known_cpus)})",
            field="cpus",
        )
    known_mem = [m for _, m in nodes if m]
    complete = known_mem and len(known_mem) == len(nodes)
    if memory_mb is not None and complete and memory_mb > max(known_mem):
        raise ValidationError(
            f"more memory than any node with {gpus} GPUs has (at most {max(known_mem)} MiB)",
            field="memory_mb",
        )


@transaction.atomic
def job_submit(
    *,
    actor: User,
    allocation: Allocation,
    command: Sequence[str],
    gpus: int,
    time_limit_s: int | None,
    name: str = "",
    workdir: str = "",
    env: Mapping[str, str] | None = None,
    cpus: int = 1,
    memory_mb: int | None = None,
) -> Job:
    """Queue a job on the allocation's cluster; it starts when the scheduler loop says so.

    A job whose GPUs x time limit exceed the allocation's remaining budget is accepted and
    held (pending, with the reason); one that can never run (more GPUs than any node, an
    expired allocation) is rejected with a ValidationError naming the field.
    """
    if not may_use_allocation(actor, allocation):
        raise PermissionDenied("you are not a member of this allocation")
    if allocation.state == AllocationState.EXPIRED:
        raise ValidationError(f"allocation {allocation.name} has expired", field="allocation")
    cmd = _command(command)
    n_gpus = _int(gpus, "gpus", low=0)
    largest = Node.objects.filter(cluster_id=allocation.cluster_id, active=True).aggregate(
        m=Max("gpus")
    )["m"]
    if largest is not None and n_gpus > largest:
        raise ValidationError(f"more GPUs than any node has (at most {largest})", field="gpus")
    posix_account_require(actor)  # jobs run as their owner's Unix account, never as ours
    if time_limit_s is None:
        raise ValidationError("this field is required", field="time_limit_s")
    limit = _int(time_limit_s, "time_limit_s", low=1, high=MAX_TIME_LIMIT_S)
    n_cpus = _int(cpus, "cpus", low=1, high=4096)
    mem = None if memory_mb is None else _int(memory_mb, "memory_mb", low=1)
    _fits_a_node(allocation, n_gpus, n_cpus, mem)
    wd = refuse_control_chars(
        require_text(workdir, field="workdir", max_length=1000, blank=True), field="workdir"
    )
    if wd and not wd.startswith("/"):
        raise ValidationError("must be an absolute path", field="workdir")
    job_name = require_text(name, field="name", max_length=NAME_MAX, blank=True)
    refuse_control_chars(job_name, field="name")
    job = Job(
        cluster_id=allocation.cluster_id,
        allocation=allocation,
        user=actor,
        name=job_name,
        command=cmd,
        workdir=wd,
        env=_env(env),
        gpus=n_gpus,
        cpus=n_cpus,
        memory_mb=mem,
        time_limit_s=limit,
    )
    held = budget_hold_reason(
        allocation.name, n_gpus * limit, allocation_remaining_seconds(allocation)
    )
    job.reason = held or "queued: waiting for the scheduler"
    job.reason_code = ReasonCode.BUDGET if held else ReasonCode.QUEUED
    job.save()
    return job


@transaction.atomic
def job_cancel(*, actor: User, job: Job) -> Job:
    """Cancel a job in any state; idempotent (a finished job comes back unchanged).

    A pending job is cancelled at once; a running one is asked to stop after commit and
    reaches CANCELLED (with its usage charged) when the scheduler loop next polls it.
    """
    if not may_cancel(actor, job):
        raise PermissionDenied("only the job's owner, its organisation's founders or lab staff")
    job = Job.objects.select_for_update().select_related("cluster").get(pk=job.pk)
    if job.finished or job.cancel_requested:
        return job
    if job.status == JobStatus.PENDING:
        job_transition(
            job,
            JobStatus.CANCELLED,
            expect=JobStatus.PENDING,
            ended_at=timezone.now(),
            reason=f"cancelled by {actor.email}",
        )
        if job.external_id:  # queued in a backend that schedules (Slurm): withdraw it there
            backend_name, external_id = job.cluster.backend, job.external_id
            transaction.on_commit(lambda: _backend_cancel(backend_name, external_id))
        return job
    job.cancel_requested = True
    job.reason = f"cancelling (requested by {actor.email})"
    job.save(update_fields=["cancel_requested", "reason", "updated_at"])
    if job.external_id:
        backend_name, external_id = job.cluster.backend, job.external_id
        transaction.on_commit(lambda: _backend_cancel(backend_name, external_id))
    return job


def _backend_cancel(backend_name: str, external_id: str) -> None:
    from ailab.execution.registry import get_backend

    try:
        get_backend(backend_name).cancel(external_id)
    except Exception:  # the loop sends it again on its next pass
        log.exception(
            "cancel of %s on %s failed; the scheduler loop retries", external_id, backend_name
        )
