"""Hooks other apps register without compute importing them (the Slurm sync, for one).

``on_allocation_changed`` holds callables ``f(allocation_id: int) -> None``; the compute
services call ``allocation_changed`` when a transaction changes an allocation (a grant, an
update, a member added or removed, a state change): after it commits, a background task
(``compute.tasks.allocation_changed_task``, run by ``ailab worker``) calls each hook, so a
slow hook (``sacctmgr``) never holds up a web request and survives a web process dying.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

on_allocation_changed: list[Callable[[int], None]] = []


def allocation_changed(allocation_id: int) -> None:
    """Enqueue the hooks for after the current transaction commits (at once outside one)."""
    from ailab.common.tasks import enqueue_after_commit
    from ailab.compute.tasks import allocation_changed_task

    key = f"allocation:{allocation_id}:changed:{uuid.uuid4().hex}"
    enqueue_after_commit(allocation_changed_task, allocation_id=allocation_id, key=key)
