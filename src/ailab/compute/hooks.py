"""Hooks other apps register without compute importing them (the Slurm sync, for one).

``on_allocation_changed`` holds callables ``f(allocation_id: int) -> None``; the compute
services call each one after the transaction that changed an allocation commits (a grant,
an update, a member added or removed, a state change). A failing hook is logged, never raised.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction

log = logging.getLogger(__name__)

on_allocation_changed: list[Callable[[int], None]] = []


def allocation_changed(allocation_id: int) -> None:
    """Schedule every hook for after the current transaction commits (at once outside one)."""

    def fire() -> None:
        for hook in list(on_allocation_changed):
            try:
                hook(allocation_id)
            except Exception:
                log.exception("allocation hook %r failed for allocation %s", hook, allocation_id)

    transaction.on_commit(fire)
