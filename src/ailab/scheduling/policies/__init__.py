"""Scheduling policies and their registry: ``get_policy(name)`` and ``POLICIES``."""

from __future__ import annotations

from collections.abc import Callable

from ailab.scheduling.policies.ailab import Ailab
from ailab.scheduling.policies.backfill import Backfill
from ailab.scheduling.policies.base import Policy, Scheduler
from ailab.scheduling.policies.fairshare import FairShare
from ailab.scheduling.policies.fifo import Fifo
from ailab.scheduling.policies.las import Las
from ailab.scheduling.policies.qssf import Qssf
from ailab.scheduling.policies.sjf import Sjf
from ailab.scheduling.policies.srtf import Srtf

POLICIES: dict[str, Callable[[], Policy]] = {
    "fifo": Fifo,
    "sjf": Sjf,
    "srtf": Srtf,
    "qssf": Qssf,
    "backfill": Backfill,
    "las": Las,
    "fairshare": FairShare,
    "ailab": Ailab,
}


def get_policy(name: str) -> Policy:
    """The policy called ``name``; ``KeyError`` naming the known ones if there is none."""
    try:
        return POLICIES[name]()
    except KeyError:
        known = ", ".join(sorted(POLICIES))
        raise KeyError(f"unknown policy {name!r} (known: {known})") from None


__all__ = ["POLICIES", "Policy", "Scheduler", "get_policy"]
