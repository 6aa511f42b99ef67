"""The one writer of ``Job.status`` and of ``Allocation.state`` (DESIGN.md rule 4).

The scheduler's apply, the loop's tracking and ``job_cancel`` all change a job's status here
and nowhere else: the declared ``JOB_TRANSITIONS`` are checked, and the row is written with
``UPDATE ... WHERE status = expect``, so of two racing writers exactly one wins.
``tests/compute/test_transitions.py`` fails if a status is written anywhere else.
"""

from __future__ import annotations

from typing import Any

from ailab.common.transitions import transition_write
from ailab.compute.models import ALLOCATION_TRANSITIONS, JOB_TRANSITIONS, Allocation, Job


def job_transition(job: Job, to: str, *, expect: str, **fields: Any) -> bool:
    """Move ``job`` from ``expect`` to ``to`` with ``fields``; True if this call won (the row
    was still ``expect``). Raises InvalidTransition for an undeclared transition."""
    return transition_write(JOB_TRANSITIONS, job, to=to, expect=expect, **fields)


def allocation_transition(allocation: Allocation, to: str, *, expect: str, **fields: Any) -> bool:
    """Move ``allocation`` from ``expect`` to ``to``; True if this call won."""
    return transition_write(ALLOCATION_TRANSITIONS, allocation, to=to, expect=expect, **fields)
