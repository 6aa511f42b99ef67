"""Budget headroom: one rule for the selectors (what a page shows, what submit checks) and the
planner (which pending jobs are held).

An allocation's headroom is its budget, minus what was charged, minus what its running jobs
may still use (GPUs x time limit left: Slurm's "safe" limits). A pending job fits if its GPUs x
time limit fit in the headroom; earlier jobs reserve first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable


def committed_seconds(
    gpus: int, time_limit_s: int, started_at: dt.datetime | None, now: dt.datetime
) -> int:
    """GPU-seconds a running job may still use: GPUs x the time limit left (never negative)."""
    elapsed = int((now - started_at).total_seconds()) if started_at else 0
    return gpus * max(time_limit_s - elapsed, 0)


def headroom(
    *,
    budget: int,
    used: int,
    running: Iterable[tuple[int, int, dt.datetime | None]],
    now: dt.datetime,
) -> int:
    """Budget minus charges minus the commitments of ``running`` (gpus, limit, started_at)."""
    return budget - used - sum(committed_seconds(g, t, s, now) for g, t, s in running)


def budget_hold_reason(allocation_name: str, gpu_seconds: int, remaining: int) -> str:
    """The reason a job waits on its allocation's budget, or '' when it fits."""
    if gpu_seconds <= remaining:
        return ""
    return (
        f"budget: needs {gpu_seconds / 3600:.2f} GPU-h (GPUs x time limit), "
        f"{max(remaining, 0) / 3600:.2f} GPU-h left in {allocation_name}"
    )
