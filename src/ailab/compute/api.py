"""/api/v1 compute: allocations, jobs (submit, list, detail, cancel, logs), cluster status.

Endpoints only translate (DESIGN.md rule 1): parse, ``access_<entity>``, one service or
selector, render. Job fields are validated by ``job_submit`` so every bad value gets the same
422 naming the field, whatever client sent it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.responses import Status

from ailab.accounts.models import User
from ailab.common.errors import ValidationError
from ailab.compute import selectors, services
from ailab.compute.models import Job, JobStatus

router = Router(tags=["compute"])


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


class AllocationOut(Schema):
    id: int
    name: str
    account: str
    organisation: str
    cluster: str
    state: str
    starts_on: dt.date
    ends_on: dt.date
    gpu_quota: int
    weight: float
    budget_gpu_seconds: int
    used_gpu_seconds: int
    balance_gpu_seconds: int
    budget_gpu_hours: float
    used_gpu_hours: float
    balance_gpu_hours: float
    used_percent: float
    pflop_days: str
    members: list[str]


class JobIn(Schema):
    allocation: str
    command: Any = None
    gpus: Any = 0
    time_limit_s: Any = None
    name: str = ""
    workdir: str = ""
    env: Any = None
    cpus: Any = 1
    memory_mb: Any = None


class JobOut(Schema):
    id: int
    name: str
    user: str
    allocation: str
    cluster: str
    command: list[str]
    workdir: str
    gpus: int
    cpus: int
    memory_mb: int | None
    time_limit_s: int
    status: str
    reason: str
    run: int
    node: str | None
    gpu_indices: list[int]
    submitted_at: dt.datetime
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    exit_code: int | None
    gpu_seconds: int
    preemptions: int


class LogOut(Schema):
    job_id: int
    stream: str
    offset: int
    next_offset: int
    data: str
    finished: bool


class GpuOut(Schema):
    index: int
    job_id: int | None
    user: str | None
    allocation: str | None


class NodeOut(Schema):
    name: str
    gpu_model: str
    free: int
    gpus: list[GpuOut]


class ClusterOut(Schema):
    name: str
    backend: str
    isolated: bool
    nodes: list[NodeOut]
    running: list[JobOut]
    queue: list[JobOut]


def allocation_out(allocation: Any) -> dict[str, Any]:
    return {
        "id": allocation.pk,
        "name": allocation.name,
        "account": allocation.account,
        "organisation": allocation.organisation.name,
        "cluster": allocation.cluster.name,
        "state": allocation.state,
        "starts_on": allocation.starts_on,
        "ends_on": allocation.ends_on,
        "gpu_quota": allocation.gpu_quota,
        "weight": float(allocation.weight),
        "members": [u.email for u in allocation.members.all()],
        **selectors.allocation_balance(allocation),
    }


def job_out(job: Job) -> dict[str, Any]:
    gpu_seconds = job.attained_gpu_seconds
    if job.status == JobStatus.RUNNING and job.started_at:
        elapsed = (dt.datetime.now(dt.UTC) - job.started_at).total_seconds()
        gpu_seconds += job.gpus * max(int(elapsed), 0)
    return {
        "id": job.pk,
        "name": job.name,
        "user": job.user.email,
        "allocation": job.allocation.name,
        "cluster": job.cluster.name,
        "command": job.command,
        "workdir": job.workdir,
        "gpus": job.gpus,
        "cpus": job.cpus,
        "memory_mb": job.memory_mb,
        "time_limit_s": job.time_limit_s,
        "status": job.status,
        "reason": job.reason,
        "run": job.run,
        "node": job.node.name if job.node else None,
        "gpu_indices": job.gpu_indices or [],
        "submitted_at": job.created_at,
        "started_at": job.started_at,
        "ended_at": job.ended_at,
        "exit_code": job.exit_code,
        "gpu_seconds": gpu_seconds,
        "preemptions": job.preemptions,
    }


@router.get("/allocations", response=list[AllocationOut], summary="My allocations")
def allocation_list(request: HttpRequest, all: bool = False) -> object:
    """Allocations I am a member of or whose organisation I founded (lab staff: ``all``)."""
    qs = selectors.allocation_list_visible_to(_user(request), all_=all)
    return [allocation_out(a) for a in qs.prefetch_related("members")]


@router.get("/allocations/{allocation_id}", response=AllocationOut)
def allocation_detail(request: HttpRequest, allocation_id: int) -> object:
    return allocation_out(selectors.access_allocation(_user(request), allocation_id))


@router.post("/jobs", response={201: JobOut}, summary="Submit a job")
def job_submit(request: HttpRequest, payload: JobIn) -> object:
    actor = _user(request)
    allocation = selectors.allocation_by_name_for(actor, payload.allocation)
    job = services.job_submit(
        actor=actor,
        allocation=allocation,
        command=payload.command,
        gpus=payload.gpus,
        time_limit_s=payload.time_limit_s,
        name=payload.name,
        workdir=payload.workdir,
        env=payload.env,
        cpus=payload.cpus,
        memory_mb=payload.memory_mb,
    )
    return Status(201, job_out(job))


@router.get("/jobs", response=list[JobOut], summary="Jobs (mine; all I may see with all)")
def job_list(
    request: HttpRequest,
    all: bool = False,
    status: JobStatus | None = None,
    allocation_id: int | None = None,
    active: bool = False,
    limit: int = 200,
) -> object:
    qs = selectors.job_list_visible_to(
        _user(request), all_=all, status=status, allocation_id=allocation_id, active=active
    ).select_related("cluster")
    return [job_out(j) for j in qs[: max(1, min(limit, 1000))]]


@router.get("/jobs/{job_id}", response=JobOut)
def job_detail(request: HttpRequest, job_id: int) -> object:
    return job_out(selectors.access_job(_user(request), job_id))


@router.post("/jobs/{job_id}/cancel", response=JobOut, summary="Cancel a job (idempotent)")
def job_cancel(request: HttpRequest, job_id: int) -> object:
    actor = _user(request)
    job = services.job_cancel(actor=actor, job=selectors.access_job(actor, job_id))
    return job_out(selectors.access_job(actor, job.pk))


@router.get("/jobs/{job_id}/logs", response=LogOut, summary="A slice of a job's log")
def job_logs(
    request: HttpRequest, job_id: int, stream: str = "stdout", offset: int = 0, limit: int = 65536
) -> object:
    job = selectors.access_job(_user(request), job_id)
    if stream not in ("stdout", "stderr"):
        raise ValidationError("one of: stdout, stderr", field="stream")
    return selectors.job_log(
        job, stream=stream, offset=max(offset, 0), limit=max(1, min(limit, 1 << 20))
    )


@router.get("/cluster", response=list[ClusterOut], summary="Nodes x GPUs, running jobs, queue")
def cluster_status(request: HttpRequest) -> object:
    user = _user(request)
    selectors.require_user(user)
    return [
        {
            "name": row["cluster"].name,
            "backend": row["cluster"].backend,
            "isolated": row["isolated"],
            "nodes": row["nodes"],
            "running": [_board_job(j, row) for j in row["running"]],
            "queue": [_board_job(j, row) for j in row["queue"]],
        }
        for row in selectors.cluster_status(viewer=user)
    ]


def _board_job(job: Job, row: dict[str, Any]) -> dict[str, Any]:
    """Another user's job on the board: that it holds GPUs, not what it runs or where."""
    out = job_out(job)
    out["user"] = row["owners"][job.pk]
    if job.pk not in row["visible"]:
        out.update(command=[], workdir="")
    return out
