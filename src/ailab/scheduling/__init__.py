"""The pure scheduling core: standard library only, no Django, no I/O, no clock reads.

Entry point: :func:`plan` (see ``docs/scheduling.md``). Data: :mod:`ailab.scheduling.model`.
"""

from ailab.scheduling.model import (
    Capability,
    ClusterState,
    Decision,
    Job,
    Mode,
    Node,
    PendingJob,
    Placement,
    Preempt,
    RunningJob,
    Slot,
    Start,
    Tenant,
    Wait,
    WaitReason,
)
from ailab.scheduling.planner import pending_codes, pending_reasons, plan
from ailab.scheduling.policies import POLICIES, get_policy

__all__ = [
    "POLICIES",
    "Capability",
    "ClusterState",
    "Decision",
    "Job",
    "Mode",
    "Node",
    "PendingJob",
    "Placement",
    "Preempt",
    "RunningJob",
    "Slot",
    "Start",
    "Tenant",
    "Wait",
    "WaitReason",
    "get_policy",
    "pending_codes",
    "pending_reasons",
    "plan",
]
