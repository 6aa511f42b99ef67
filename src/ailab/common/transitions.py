"""Allowed status transitions, declared as data next to each model (DESIGN.md rule 4), and the
one guarded write every state machine goes through.

JOB_TRANSITIONS = Transitions("job", {
    JobStatus.PENDING: {JobStatus.RUNNING, JobStatus.CANCELLED},
    ...
})
JOB_TRANSITIONS.check(job.status, JobStatus.RUNNING)   # raises InvalidTransition
won = transition_write(JOB_TRANSITIONS, job, to=JobStatus.RUNNING, expect=JobStatus.PENDING)

``transition_write`` is the only place a status column is written with ``UPDATE``: it checks
the declared transition, then ``UPDATE ... WHERE pk = ... AND <field> = expect``, so of two
writers racing from the same state exactly one wins, and the loser learns it lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models
from django.utils import timezone

from ailab.common.errors import InvalidTransition


class Transitions:
    def __init__(
        self, entity: str, allowed: Mapping[str, Iterable[str]], *, field: str = "status"
    ) -> None:
        self.entity = entity
        self.field = field
        self.allowed: dict[str, frozenset[str]] = {
            str(src): frozenset(str(d) for d in dst) for src, dst in allowed.items()
        }

    def can(self, current: str, target: str) -> bool:
        return str(target) in self.allowed.get(str(current), frozenset())

    def check(self, current: str, target: str) -> None:
        if not self.can(current, target):
            raise InvalidTransition(
                f"a {self.entity} cannot go from {current} to {target}", field=self.field
            )

    def targets(self, current: str) -> frozenset[str]:
        return self.allowed.get(str(current), frozenset())

    @property
    def terminal(self) -> frozenset[str]:
        sources = set(self.allowed)
        every = sources.union(*self.allowed.values())
        return frozenset(s for s in every if not self.allowed.get(s))


def transition_write(
    transitions: Transitions,
    instance: models.Model,
    *,
    to: str,
    expect: str,
    **fields: Any,
) -> bool:
    """Move ``instance`` from ``expect`` to ``to`` (and write ``fields`` with it) if the row
    is still in ``expect``; True if this call won. The instance is updated in memory only
    when it won. Raises InvalidTransition when ``expect -> to`` is not declared."""
    transitions.check(expect, to)
    model = type(instance)
    if any(f.name == "updated_at" for f in model._meta.concrete_fields) and (
        "updated_at" not in fields
    ):
        fields["updated_at"] = timezone.now()
    won = (
        model._default_manager.filter(pk=instance.pk, **{transitions.field: expect}).update(
            **{transitions.field: to}, **fields
        )
        == 1
    )
    if won:
        setattr(instance, transitions.field, to)
        computed = [n for n, v in fields.items() if hasattr(v, "resolve_expression")]
        for name, value in fields.items():
            if name not in computed:
                setattr(instance, name, value)
        if computed:
            instance.refresh_from_db(fields=computed)
    return won
