"""The guards that keep two scheduler loops from double-booking a GPU."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from ailab.compute.loop import Loop, lease_acquire
from ailab.compute.models import GpuAssignment, Job, JobStatus, Node
from ailab.compute.scheduler import apply, policy_name, snapshot
from ailab.compute.services import job_submit
from ailab.scheduling import plan
from tests.compute.conftest import Lab

pytestmark = pytest.mark.django_db

CAPS = frozenset({"preempt", "gpu_pinning"})


def test_one_loop_per_cluster_until_its_lease_expires(lab: Lab) -> None:
    """A second loop is refused the lease while the first holds it, and gets it once it has
    expired (the first loop died)."""
    now = timezone.now()
    assert lease_acquire(lab.cluster, "first", now)
    assert not lease_acquire(lab.cluster, "second", now)
    assert lease_acquire(lab.cluster, "first", now + dt.timedelta(seconds=1))
    assert lease_acquire(lab.cluster, "second", now + dt.timedelta(seconds=60))
    report = Loop(owner="first").run_pass(now=now + dt.timedelta(seconds=61))
    assert report.skipped_clusters == [lab.cluster.name]


def test_a_stale_snapshot_applies_nothing(lab: Lab) -> None:
    """Two planners on the same snapshot: the first apply wins, the second (stale version)
    changes nothing, so no GPU is given twice."""
    job = job_submit(
        actor=lab.member, allocation=lab.allocation, command=["true"], gpus=4, time_limit_s=60
    )
    now = timezone.now()
    lease_acquire(lab.cluster, "me", now)
    snap = snapshot(lab.cluster, now, CAPS)
    decisions = plan(snap.state, policy_name(), now.timestamp())
    first = apply(snap, decisions, owner="me", now=now)
    second = apply(snap, decisions, owner="me", now=now)
    assert first.started == [job.pk]
    assert second.conflict
    assert second.started == []
    assert GpuAssignment.objects.count() == 4


def test_apply_without_the_lease_does_nothing(lab: Lab) -> None:
    """A loop whose lease was taken over may not apply its plan."""
    job_submit(
        actor=lab.member, allocation=lab.allocation, command=["true"], gpus=1, time_limit_s=60
    )
    now = timezone.now()
    lease_acquire(lab.cluster, "old", now - dt.timedelta(seconds=60))
    lease_acquire(lab.cluster, "new", now)
    snap = snapshot(lab.cluster, now, CAPS)
    result = apply(snap, plan(snap.state, policy_name(), now.timestamp()), owner="old", now=now)
    assert result.conflict
    assert Job.objects.filter(status=JobStatus.RUNNING).count() == 0


def test_the_database_refuses_a_gpu_assigned_twice(lab: Lab) -> None:
    """The last line of defence: (node, GPU index) is unique among assignments."""
    a, b = (
        job_submit(
            actor=lab.member, allocation=lab.allocation, command=["true"], gpus=1, time_limit_s=60
        )
        for _ in range(2)
    )
    node = Node.objects.get(cluster=lab.cluster)
    GpuAssignment.objects.create(job=a, node=node, gpu_index=0)
    with pytest.raises(IntegrityError), transaction.atomic():
        GpuAssignment.objects.create(job=b, node=node, gpu_index=0)
