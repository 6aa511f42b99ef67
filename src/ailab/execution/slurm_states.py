"""Slurm's job states and pending reasons, mapped to ailab's ``State`` and reason text.

Every base state Slurm 22.05 defines (``job_state_string`` in slurm.h) is mapped; an
unknown one (a newer Slurm) raises ``BackendError`` rather than being guessed at.
"""

from __future__ import annotations

from collections.abc import Mapping

from ailab.execution.base import BackendError, State

SLURM_STATES: Mapping[str, State] = {
    # waiting
    "PENDING": State.PENDING,
    "REQUEUED": State.PENDING,  # requeued, about to wait again
    "REQUEUE_FED": State.PENDING,
    "REQUEUE_HOLD": State.PENDING,
    "RESV_DEL_HOLD": State.PENDING,
    "SPECIAL_EXIT": State.PENDING,  # requeued and held after a special exit code
    # holding resources
    "CONFIGURING": State.RUNNING,  # allocated, nodes getting ready
    "RUNNING": State.RUNNING,
    "COMPLETING": State.RUNNING,  # processes ending; resources still held
    "SUSPENDED": State.RUNNING,
    "STOPPED": State.RUNNING,  # SIGSTOPped but still holding resources
    "SIGNALING": State.RUNNING,
    "STAGE_OUT": State.RUNNING,
    "RESIZING": State.RUNNING,
    # finished
    "COMPLETED": State.COMPLETED,
    "FAILED": State.FAILED,
    "NODE_FAIL": State.FAILED,
    "BOOT_FAIL": State.FAILED,
    "OUT_OF_MEMORY": State.FAILED,
    "CANCELLED": State.CANCELLED,
    "REVOKED": State.CANCELLED,  # a federation sibling started elsewhere
    "TIMEOUT": State.TIMEOUT,
    "DEADLINE": State.TIMEOUT,
    "PREEMPTED": State.PREEMPTED,
}

# Why a state needs a word of its own even without a pending reason.
STATE_REASONS: Mapping[str, str] = {
    "REQUEUED": "requeued by Slurm",
    "REQUEUE_HOLD": "requeued and held by Slurm",
    "REQUEUE_FED": "requeued in the federation",
    "RESV_DEL_HOLD": "held: its reservation was deleted",
    "SPECIAL_EXIT": "held after a special exit code",
    "CONFIGURING": "nodes are being configured",
    "COMPLETING": "completing",
    "SUSPENDED": "suspended by Slurm",
    "STOPPED": "stopped (SIGSTOP)",
    "NODE_FAIL": "its node failed",
    "BOOT_FAIL": "its node failed to boot",
    "OUT_OF_MEMORY": "out of memory",
    "REVOKED": "revoked (started on another cluster)",
    "DEADLINE": "missed its deadline",
}

# Pending reasons that say the allocation cannot run this job now, in words users read.
PENDING_REASONS: Mapping[str, str] = {
    "AssocGrpGRESMinutes": (
        "the allocation's remaining GPU-time budget in Slurm cannot cover this job "
        "(GPUs x time limit)"
    ),
    "AssocGrpGRESRunMinutes": "the allocation's running jobs would exceed its GPU-time budget",
    "AssocGrpGRES": "the allocation's GPU limit is reached",
    "AssocMaxGRESPerJob": "the job asks for more GPUs than the allocation allows per job",
    "AssocGrpJobsLimit": "the allocation's running-job limit is reached",
    "AssocGrpSubmitJobsLimit": "the allocation may not submit more jobs",
    "AssocMaxJobsLimit": "the user's running-job limit in this allocation is reached",
    "AssocMaxSubmitJobLimit": "the user may not submit more jobs to this allocation",
    "AssocGrpCPUMinutes": "the allocation's CPU-time budget is used up",
    "AssocGrpBillingMinutes": "the allocation's billing budget is used up",
    "AssocMaxWallDurationPerJobLimit": "the job's time limit is over the allocation's maximum",
    "QOSMaxGRESMinutes": "the job would exceed the QOS's GPU-minutes per job",
    "QOSGrpGRESMinutes": "the QOS's GPU-time budget is used up",
    "QOSGrpGRESRunMinutes": "the QOS's running GPU-minutes are at their limit",
    "QOSGrpGRES": "the QOS's GPU limit is reached",
    "QOSMaxGRESPerUser": "the user holds the most GPUs the QOS allows",
    "QOSMaxJobsPerUserLimit": "the user runs the most jobs the QOS allows",
    "QOSMaxWallDurationPerJobLimit": "the job's time limit is over the QOS maximum",
    "Resources": "waiting for GPUs to free up",
    "Priority": "waiting behind jobs of higher priority",
    "Dependency": "waiting for a job it depends on",
    "DependencyNeverSatisfied": "a job it depends on failed; it will never start",
    "BeginTime": "its start time is in the future",
    "JobHeldUser": "held by its user",
    "JobHeldAdmin": "held by an administrator",
    "ReqNodeNotAvail": "the nodes it needs are unavailable",
    "PartitionDown": "the partition is down",
    "PartitionInactive": "the partition is inactive",
    "PartitionNodeLimit": "the partition's node limit is exceeded",
    "PartitionTimeLimit": "the job's time limit is over the partition's maximum",
    "InvalidAccount": "the account is invalid (not synced to Slurm?)",
    "InvalidQOS": "the QOS is invalid",
    "Reservation": "waiting for its reservation",
    "launch failed requeued held": "the launch failed; requeued and held",
}

# Reasons Slurm gives for a job that simply waits its turn or has none.
_NO_REASON = {"", "None", "NONE"}


def base_state(raw: object) -> str:
    """The base state name from squeue/sacct JSON (a string, or a list in newer Slurm)."""
    if isinstance(raw, list):
        raw = raw[0] if raw else ""
    if isinstance(raw, dict):  # sacct: {"current": ..., "reason": ...}
        raw = raw.get("current", "")
    text = str(raw).strip().upper()
    # "CANCELLED by 0" in sacct's text output, "PENDING+REQUEUED" style flags
    return text.split()[0].split("+")[0] if text else ""


def state_of(raw: object) -> State:
    name = base_state(raw)
    try:
        return SLURM_STATES[name]
    except KeyError:
        raise BackendError(f"Slurm reported a job state ailab does not know: {raw!r}") from None


def reason_text(slurm_state: str, slurm_reason: str) -> str:
    """ailab's reason: Slurm's own code first (so it can be searched), then words."""
    reason = (slurm_reason or "").strip()
    if reason in _NO_REASON:
        return STATE_REASONS.get(slurm_state, "")
    words = PENDING_REASONS.get(reason)
    return f"{reason}: {words}" if words else reason
