"""Wait reasons: a code (``ReasonCode``, the planner's ``WaitReason`` values) and the words
the job's owner reads. The only place that turns a planner ``Wait`` into what is stored."""

from __future__ import annotations

from typing import NamedTuple

from ailab.compute.models import ReasonCode
from ailab.scheduling import Wait, WaitReason

REASON_MAX = 300


class Reason(NamedTuple):
    code: str
    text: str

    def clipped(self) -> Reason:
        return Reason(self.code, self.text[:REASON_MAX])


def wait_reason(wait: Wait, *, largest_node: int) -> Reason:
    """What a job held by ``wait`` shows: the planner's code, its words and detail."""
    if wait.code is WaitReason.NEVER_FITS:
        # Kept pending, not failed: the inventory may grow back (a node returns, the worker
        # is restarted with its GPUs declared); submit refuses such jobs.
        text = f"never fits: more GPUs than any node has (at most {largest_node})"
        return Reason(ReasonCode.NEVER_FITS, text)
    return Reason(ReasonCode(wait.code.value), wait.text).clipped()


RELEASING = Reason(ReasonCode.RELEASING, "reserved: waiting for preempted jobs to release its GPUs")
MULTI_NODE = Reason(
    ReasonCode.NEEDS_MULTI_NODE, "needs several nodes: the backend runs a job on one node only"
)
STARTING = Reason(ReasonCode.STARTING, "starting")
QUEUED = Reason(ReasonCode.QUEUED, "queued: waiting for the scheduler")


def preempting(detail: str) -> Reason:
    return Reason(ReasonCode.PREEMPTING, f"preempting: {detail}").clipped()


def preempted(preempting_text: str) -> Reason:
    detail = preempting_text.removeprefix("preempting: ")
    return Reason(ReasonCode.PREEMPTED, f"preempted ({detail}); requeued").clipped()


def budget(text: str) -> Reason:
    return Reason(ReasonCode.BUDGET, text).clipped()


def allocation_not_started(name: str, starts_on: object) -> Reason:
    return Reason(ReasonCode.ALLOCATION_NOT_STARTED, f"allocation {name} starts on {starts_on}")


def allocation_expired(name: str) -> Reason:
    return Reason(ReasonCode.ALLOCATION_EXPIRED, f"allocation {name} has expired")


def backend(text: str) -> Reason:
    return Reason(ReasonCode.BACKEND, text).clipped()


def submit_failed(error: object) -> Reason:
    return Reason(ReasonCode.SUBMIT_FAILED, f"submit failed: {error}").clipped()
