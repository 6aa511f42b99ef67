"""One planning step for a cluster: snapshot -> ``ailab.scheduling.plan()`` -> guarded apply.

The stages live in :mod:`ailab.compute.planning`; this module picks the policy and runs them.
``PlanGate`` makes the loop incremental: a pass in which nothing the plan reads has changed
(the cluster's version, the pending jobs, the allocations) skips the snapshot and the plan,
up to ``AILAB_SCHEDULER_REPLAN_S`` seconds (default 10: ages and fair shares move with time).
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from django.db.models import Count, Max

from ailab.compute.models import Allocation, Cluster, Job, JobStatus
from ailab.compute.planning.apply import Applied, apply
from ailab.compute.planning.snapshot import Estimate, Snapshot, snapshot
from ailab.config.env import env_int, env_str
from ailab.scheduling import POLICIES, Capability, plan

__all__ = [
    "Applied",
    "PlanGate",
    "Snapshot",
    "apply",
    "plan_and_apply",
    "policy_name",
    "snapshot",
]


def policy_name() -> str:
    """``AILAB_SCHEDULER_POLICY`` (default ``ailab``; ``fifo`` if that is not available)."""
    name = env_str("AILAB_SCHEDULER_POLICY", "ailab")
    if name not in POLICIES:
        if name == "ailab":
            return "fifo"
        raise KeyError(f"AILAB_SCHEDULER_POLICY: unknown policy {name!r}")
    return name


def plan_and_apply(
    cluster: Cluster,
    *,
    owner: str,
    now: dt.datetime,
    capabilities: frozenset[Capability],
    estimate: Estimate | None = None,
) -> Applied:
    snap = snapshot(cluster, now, capabilities, estimate=estimate)
    if not snap.state.pending and not snap.held and not snap.cpu_only:
        return Applied()
    decisions = plan(snap.state, policy_name(), now.timestamp())
    return apply(snap, decisions, owner=owner, now=now)


class Mark(NamedTuple):
    """What a plan depends on that changes without the clock, read in three indexed queries."""

    version: int
    newest_pending: int | None
    pending: int
    allocations_changed: object


def plan_mark(cluster: Cluster) -> Mark:
    version = Cluster.objects.values_list("version", flat=True).get(pk=cluster.pk)
    pending = Job.objects.filter(cluster=cluster, status=JobStatus.PENDING).aggregate(
        newest=Max("id"), n=Count("id")
    )
    changed = Allocation.objects.filter(cluster=cluster).aggregate(m=Max("updated_at"))["m"]
    return Mark(version, pending["newest"], pending["n"], changed)


class PlanGate:
    """Per cluster, the mark of the last plan applied and when; see the module's doc."""

    def __init__(self) -> None:
        self.last: dict[int, tuple[Mark, dt.datetime]] = {}

    def due(self, cluster: Cluster, now: dt.datetime) -> Mark | None:
        """The current mark if the cluster needs a plan now, else None (nothing changed)."""
        mark = plan_mark(cluster)
        seen = self.last.get(cluster.pk)
        every = env_int("AILAB_SCHEDULER_REPLAN_S", 10)
        if seen and seen[0] == mark and (now - seen[1]).total_seconds() < every:
            return None
        return mark

    def planned(self, cluster: Cluster, mark: Mark, applied: Applied, now: dt.datetime) -> None:
        """Record a plan that changed nothing but reasons: the mark as it is after our own
        apply (which bumped the version). Anything else records nothing: plan again."""
        if applied.conflict or applied.started or applied.preempted:
            # a plan that acted may act again on what it changed: only a plan that starts
            # and preempts nothing is a fixed point worth skipping
            self.last.pop(cluster.pk, None)
            return
        version = mark.version if applied.version is None else applied.version
        self.last[cluster.pk] = (mark._replace(version=version), now)
