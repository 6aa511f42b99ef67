"""Hooks other apps register without compute importing them (the Slurm sync, for one).

``on_allocation_changed`` holds callables ``f(allocation_id: int) -> None``; the compute
services call ``allocation_changed`` when a transaction changes an allocation (a grant, an
update, a member added or removed, a state change): after it commits, a background task
(``compute.tasks.allocation_changed_task``, run by ``ailab worker``) calls each hook, so a
slow hook (``sacctmgr``) never holds up a web request and survives a web process dying.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from django_tasks import task

from ailab.common.tasks import enqueue_after_commit, once, register, retrying

log = logging.getLogger(__name__)

on_allocation_changed: list[Callable[[int], None]] = []


def allocation_changed(allocation_id: int) -> None:
    """Enqueue the hooks for after the current transaction commits (at once outside one)."""
    key = f"allocation:{allocation_id}:changed:{uuid.uuid4().hex}"
    enqueue_after_commit(allocation_changed_task, allocation_id=allocation_id, key=key)


@register
@task()
@retrying
def allocation_changed_task(*, allocation_id: int, key: str, attempt: int = 1) -> bool:
    """Run every allocation-changed hook for ``allocation_id``; a failing hook fails the task
    (retried; staff see it) after the others have run."""
    with once(key) as first:
        if not first:
            return False
        failed: list[str] = []
        for hook in list(on_allocation_changed):
            try:
                hook(allocation_id)
            except Exception:
                log.exception("allocation hook %r failed for allocation %s", hook, allocation_id)
                failed.append(getattr(hook, "__name__", repr(hook)))
        if failed:
            raise RuntimeError(f"allocation {allocation_id}: hooks failed: {', '.join(failed)}")
        return True
