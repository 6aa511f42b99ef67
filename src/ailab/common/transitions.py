"""Allowed status transitions, declared as data next to each model (DESIGN.md rule 4).

JOB_TRANSITIONS = Transitions("job", {
    JobStatus.PENDING: {JobStatus.RUNNING, JobStatus.CANCELLED},
    ...
})
JOB_TRANSITIONS.check(job.status, JobStatus.RUNNING)   # raises InvalidTransition
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ailab.common.errors import InvalidTransition


class Transitions:
    def __init__(self, entity: str, allowed: Mapping[str, Iterable[str]]) -> None:
        self.entity = entity
        self.allowed: dict[str, frozenset[str]] = {
            str(src): frozenset(str(d) for d in dst) for src, dst in allowed.items()
        }

    def can(self, current: str, target: str) -> bool:
        return str(target) in self.allowed.get(str(current), frozenset())

    def check(self, current: str, target: str) -> None:
        if not self.can(current, target):
            raise InvalidTransition(
                f"a {self.entity} cannot go from {current} to {target}", field="status"
            )

    def targets(self, current: str) -> frozenset[str]:
        return self.allowed.get(str(current), frozenset())

    @property
    def terminal(self) -> frozenset[str]:
        sources = set(self.allowed)
        every = sources.union(*self.allowed.values())
        return frozenset(s for s in every if not self.allowed.get(s))
