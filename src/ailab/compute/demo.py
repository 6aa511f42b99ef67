"""The compute part of the demo lab: a local cluster, allocations, a few real short jobs.

Idempotent: a second run finds everything in place and changes nothing (jobs are submitted
only when the demo's allocations have none). Through the services only.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from django.utils import timezone

from ailab.accounts.posix import posix_account_of, posix_account_set
from ailab.compute.models import Allocation, Job
from ailab.compute.services import allocation_grant, cluster_default, inventory_sync, job_submit
from ailab.execution.registry import get_backend

# organisation, allocation name, GPU-hours, guaranteed GPUs, member emails
ALLOCATIONS = [
    ("VisionLoop", "VisionLoop pilot", 2000, 2, ["founder@visionloop.ai", "cto@visionloop.ai"]),
    ("MedSight", "MedSight pilot", 1000, 1, ["founder@medsight.hk"]),
    (
        "University of Hong Kong",
        "HKU NLP group",
        500,
        1,
        ["prof@hku.example", "student@hku.example"],
    ),
]

JOBS = [
    # allocation, submitter, name, gpus, seconds, command
    (
        "VisionLoop pilot",
        "cto@visionloop.ai",
        "train-detector",
        2,
        600,
        [
            "python3",
            "-c",
            "import os,time; print('GPUs', os.environ['CUDA_VISIBLE_DEVICES']);"
            " [print('epoch', e, flush=True) or time.sleep(20) for e in range(15)]",
        ],
    ),
    (
        "MedSight pilot",
        "founder@medsight.hk",
        "segment-scans",
        1,
        300,
        [
            "sh",
            "-c",
            "echo GPUs $CUDA_VISIBLE_DEVICES; for i in 1 2 3 4 5 6; do echo step $i;"
            " sleep 30; done",
        ],
    ),
    (
        "HKU NLP group",
        "student@hku.example",
        "tokenise-corpus",
        2,
        600,
        ["python3", "-c", "import time; print('tokenising'); time.sleep(120); print('done')"],
    ),
    (
        "HKU NLP group",
        "prof@hku.example",
        "quick-eval",
        1,
        120,
        ["python3", "-c", "print('accuracy 0.91')"],
    ),
]


def _demo_unix_accounts(ctx: Any, emails: list[str]) -> None:
    """Staff assign the demo's researchers Unix accounts (demo1, demo2 ...): their jobs run
    as those accounts in lab mode. Names come from the lab, never from the emails."""
    for n, email in enumerate(emails, start=1):
        user = ctx.users[email]
        if posix_account_of(user) is None:
            posix_account_set(actor=ctx.staff, user=user, username=f"demo{n}")


def demo_build_part(ctx: Any) -> dict[str, Any]:
    os.environ.setdefault("AILAB_LOCAL_GPUS", "4")
    cluster = cluster_default()
    if not cluster.nodes.exists():
        inventory_sync(cluster=cluster, nodes=get_backend(cluster.backend).nodes())
    today = timezone.localdate()
    allocations: dict[str, Allocation] = {}
    for org_name, name, hours, quota, emails in ALLOCATIONS:
        existing = Allocation.objects.filter(cluster=cluster, name=name).first()
        allocations[name] = existing or allocation_grant(
            actor=ctx.staff,
            organisation=ctx.organisations[org_name],
            name=name,
            gpu_hours=hours,
            starts_on=today - dt.timedelta(days=14),
            ends_on=today + dt.timedelta(days=76),
            gpu_quota=quota,
            members=[ctx.users[e] for e in emails],
            cluster=cluster,
            note="demo allocation",
        )
    _demo_unix_accounts(ctx, sorted({email for _, email, *_ in JOBS}))
    submitted = 0
    if not Job.objects.filter(allocation__in=allocations.values()).exists():
        for alloc_name, email, job_name, gpus, seconds, command in JOBS:
            job_submit(
                actor=ctx.users[email],
                allocation=allocations[alloc_name],
                command=command,
                gpus=gpus,
                time_limit_s=seconds,
                name=job_name,
            )
            submitted += 1
    ctx.say(
        f"compute: cluster {cluster.name} with {len(allocations)} allocations; "
        f"{submitted} demo jobs queued (the scheduler loop starts them)"
    )
    # Only this part's own rows: later parts (programmes' awards) add allocations of their own.
    return {
        "clusters": 1,
        "allocations": len(allocations),
        "jobs": Job.objects.filter(allocation__in=allocations.values()).count(),
    }
