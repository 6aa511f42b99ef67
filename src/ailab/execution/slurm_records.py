"""Slurm's job records (``squeue --json``, ``sacct --json``) read into ``Status``.

GPUs are the ones Slurm allocated: squeue's ``tres_alloc_str`` and sacct's
``tres.allocated`` (AllocTRES), never what the job asked for. Times are aware UTC.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from ailab.execution.base import State, Status
from ailab.execution.slurm_states import base_state, reason_text, state_of

_GPU_TRES = re.compile(r"gres/gpu(?::[^=,]+)?=(\d+)")


def _utc(epoch: object) -> dt.datetime | None:
    if isinstance(epoch, dict):  # newer Slurm: {"set": true, "number": ...}
        epoch = epoch.get("number") if epoch.get("set", True) else 0
    if not isinstance(epoch, int | float) or epoch <= 0:
        return None
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC)


def gpus_from_tres(tres: str) -> int | None:
    """GPUs in a TRES string such as ``cpu=1,mem=1G,gres/gpu=2`` (None when absent)."""
    found = [int(n) for n in _GPU_TRES.findall(tres or "")]
    return max(found) if found else None


def gpus_allocated_squeue(tres_alloc: str) -> int | None:
    """GPUs Slurm allocated, from squeue's ``tres_alloc_str``: 0 when it allocated none,
    None before it allocated anything (pending)."""
    if not tres_alloc:
        return None
    return gpus_from_tres(tres_alloc) or 0


def gpus_from_sacct_tres(items: object) -> int | None:
    """GPUs in sacct's ``tres.allocated`` list: 0 when the list names none (the job got no
    GPUs, or never ran), None when sacct gave no list."""
    if not isinstance(items, list):
        return None
    for item in items:
        if isinstance(item, dict) and item.get("type") == "gres" and item.get("name") == "gpu":
            count = item.get("count")
            return int(count) if isinstance(count, int) else None
    return 0


def _exit_code_from_sacct(raw: object) -> int | None:
    if isinstance(raw, dict):
        code = raw.get("return_code")
        if isinstance(code, int):
            return code
        if isinstance(code, dict):  # newer Slurm: {"set": true, "number": 0}
            number = code.get("number")
            return number if isinstance(number, int) else None
    return None


def exit_code_from_squeue(raw: object) -> int | None:
    if isinstance(raw, int):
        return raw >> 8 if raw > 255 else raw  # a wait status when it carries high bits
    return _exit_code_from_sacct(raw)


def dict_of(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def sacct_comment(job: Mapping[str, Any]) -> str:
    comment = job.get("comment")
    if isinstance(comment, dict):
        return str(comment.get("job") or "")
    return str(comment or "")


def status_from_squeue(job: Mapping[str, Any]) -> Status:
    slurm_state = base_state(job.get("job_state"))
    state = state_of(slurm_state)
    reason = reason_text(slurm_state, str(job.get("state_reason", "")))
    exit_code = exit_code_from_squeue(job.get("exit_code")) if state.finished else None
    if state is State.FAILED and not reason and exit_code is not None:
        reason = f"exit {exit_code}"
    node = str(job.get("nodes") or "")
    never_ran = state is State.PENDING or not node  # e.g. cancelled while pending
    return Status(
        external_id=str(job.get("job_id")),
        state=state,
        reason=reason,
        started_at=None if never_ran else _utc(job.get("start_time")),
        ended_at=_utc(job.get("end_time")) if state.finished else None,
        exit_code=exit_code,
        # What Slurm allocated, never what was asked for (tres_req_str).
        gpus=gpus_allocated_squeue(str(job.get("tres_alloc_str") or "")),
        node=None if never_ran else node,
    )


def status_from_sacct(job: Mapping[str, Any]) -> Status:
    raw_state = job.get("state")
    slurm_state = base_state(raw_state)
    state = state_of(slurm_state)
    slurm_reason = str(raw_state.get("reason", "")) if isinstance(raw_state, dict) else ""
    reason = reason_text(slurm_state, slurm_reason)
    times = dict_of(job.get("time"))
    exit_code = _exit_code_from_sacct(job.get("exit_code")) if state.finished else None
    if state is State.FAILED and not reason and exit_code is not None:
        reason = f"exit {exit_code}"
    tres = dict_of(job.get("tres"))
    node = str(job.get("nodes") or "")
    # A job cancelled while pending: sacct says "None assigned" and start == end.
    never_ran = state is State.PENDING or node in ("", "None assigned")
    return Status(
        external_id=str(job.get("job_id")),
        state=state,
        reason=reason,
        started_at=None if never_ran else _utc(times.get("start")),
        ended_at=_utc(times.get("end")) if state.finished else None,
        exit_code=exit_code,
        gpus=gpus_from_sacct_tres(tres.get("allocated")),
        node=None if never_ran else node,
    )
