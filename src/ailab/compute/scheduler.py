"""One planning step for a cluster: snapshot -> ``ailab.scheduling.plan()`` -> guarded apply.

The stages live in :mod:`ailab.compute.planning`; this module picks the policy and runs them.
"""

from __future__ import annotations

import datetime as dt

from ailab.compute.models import Cluster
from ailab.compute.planning.apply import Applied, apply
from ailab.compute.planning.snapshot import Estimate, Snapshot, snapshot
from ailab.config.env import env_str
from ailab.scheduling import POLICIES, Capability, plan

__all__ = ["Applied", "Snapshot", "apply", "plan_and_apply", "policy_name", "snapshot"]


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
