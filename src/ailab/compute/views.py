"""Pages: the cluster board, jobs (list, submit, detail with a live log tail), allocations.

Views only translate: parse the form, ``access_<entity>``, one service or selector, render.
HTMX requests get the fragment that refreshes (the board, a job's log).
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from ailab.common.errors import ValidationError
from ailab.common.htmx import render_page_or_fragment
from ailab.common.http import AuthedHttpRequest
from ailab.compute import charts, selectors, services
from ailab.compute.models import Allocation, JobStatus

_DURATION = re.compile(r"^(\d+)\s*([smhd]?)$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "": 60}


def parse_time_limit(text: str) -> int:
    """``2h``, ``30m``, ``1d``, ``90s`` or bare minutes, as seconds."""
    m = _DURATION.match(text.strip())
    if not m:
        raise ValidationError("write it as 2h, 30m, 1d or minutes", field="time_limit_s")
    return int(m.group(1)) * _UNITS[m.group(2).lower()]


def _int(value: str, field: str, default: int = 0) -> int:
    if not value.strip():
        return default
    try:
        return int(value)
    except ValueError:
        raise ValidationError("must be a whole number", field=field) from None


def _usable_allocations(user: Any) -> list[Allocation]:
    return [
        a
        for a in selectors.allocation_list_visible_to(user, all_=True)
        if selectors.may_use_allocation(user, a)
    ]


@login_required
def cluster_board(request: AuthedHttpRequest) -> HttpResponse:
    context = {"clusters": selectors.cluster_status(viewer=request.user)}
    return render_page_or_fragment(
        request, "compute/cluster_board.html", "compute/_board.html", context
    )


@login_required
def job_list(request: AuthedHttpRequest) -> HttpResponse:
    all_ = request.GET.get("all") == "1"
    status = request.GET.get("status") or None
    if status not in JobStatus.values:
        status = None
    context = {
        "jobs": selectors.job_list_visible_to(request.user, all_=all_, status=status)[:200],
        "all": all_,
        "status": status,
        "statuses": JobStatus.choices,
        "allocations": _usable_allocations(request.user),
    }
    return render(request, "compute/job_list.html", context)


@login_required
@require_POST
def job_submit(request: AuthedHttpRequest) -> HttpResponse:
    form = request.POST
    allocation = selectors.access_allocation(
        request.user, _int(form.get("allocation", ""), "allocation")
    )
    try:
        command = shlex.split(form.get("command", ""))
    except ValueError as exc:
        raise ValidationError(str(exc), field="command") from exc
    job = services.job_submit(
        actor=request.user,
        allocation=allocation,
        command=command,
        gpus=_int(form.get("gpus", ""), "gpus"),
        time_limit_s=parse_time_limit(form.get("time_limit", "")),
        name=form.get("name", ""),
        cpus=_int(form.get("cpus", ""), "cpus", default=1),
    )
    messages.success(request, f"Job {job.pk} submitted.")
    return redirect("job-detail", job_id=job.pk)


@login_required
def job_detail(request: AuthedHttpRequest, job_id: int) -> HttpResponse:
    job = selectors.access_job(request.user, job_id)
    log = selectors.job_log(job, offset=0, limit=1 << 20)
    tail = log["data"][-20000:]
    context = {"job": job, "log": tail, "may_cancel": selectors.may_cancel(request.user, job)}
    return render_page_or_fragment(request, "compute/job_detail.html", "compute/_log.html", context)


@login_required
@require_POST
def job_cancel(request: AuthedHttpRequest, job_id: int) -> HttpResponse:
    job = selectors.access_job(request.user, job_id)
    services.job_cancel(actor=request.user, job=job)
    messages.info(request, f"Job {job.pk}: cancel requested.")
    return redirect("job-detail", job_id=job.pk)


@login_required
def allocation_list(request: AuthedHttpRequest) -> HttpResponse:
    all_ = request.GET.get("all") == "1"
    rows = [
        {"allocation": a, "balance": selectors.allocation_balance(a)}
        for a in selectors.allocation_list_visible_to(request.user, all_=all_)
    ]
    return render(request, "compute/allocation_list.html", {"rows": rows, "all": all_})


@login_required
def allocation_detail(request: AuthedHttpRequest, allocation_id: int) -> HttpResponse:
    allocation = selectors.access_allocation(request.user, allocation_id)
    data = selectors.burn_down(allocation)
    context = {
        "allocation": allocation,
        "balance": selectors.allocation_balance(allocation),
        "chart": charts.burn_down_svg(data),
        "rate_h": data["rate_per_day"] / 3600,
        "months": selectors.usage_summary(by="month", allocation=allocation),
        "members": allocation.members.all(),
        "jobs": selectors.job_list_visible_to(request.user, all_=True, allocation_id=allocation.pk)[
            :50
        ],
    }
    return render(request, "compute/allocation_detail.html", context)
