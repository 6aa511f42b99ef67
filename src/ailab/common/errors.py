"""The DomainError family: what services raise instead of HTTP errors (DESIGN.md rule 2).

One place maps them to HTTP (``ailab.common.api``) and to page messages
(``ailab.common.middleware``). Each error carries a machine ``code``, a human
``reason`` and, where one input is to blame, the ``field`` that names it.
"""

from __future__ import annotations

from collections.abc import Iterable


class DomainError(Exception):
    code = "error"
    status = 400

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field

    @property
    def errors(self) -> list[dict[str, str | None]]:
        return [{"field": self.field, "reason": self.reason}]

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}" if self.field else self.reason


class ValidationError(DomainError):
    """Bad input: ``field`` names it, ``reason`` says what is wrong."""

    code = "invalid"
    status = 422

    def __init__(
        self,
        reason: str = "invalid input",
        *,
        field: str | None = None,
        errors: Iterable[tuple[str, str]] = (),
    ) -> None:
        self._many = list(errors)
        if self._many and field is None:
            field, reason = self._many[0]
        super().__init__(reason, field=field)

    @property
    def errors(self) -> list[dict[str, str | None]]:
        if self._many:
            return [{"field": f, "reason": r} for f, r in self._many]
        return super().errors


class NotAuthenticated(DomainError):
    code = "not_authenticated"
    status = 401


class PermissionDenied(DomainError):
    code = "permission_denied"
    status = 403


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Conflict(DomainError):
    """The request clashes with the current state (a duplicate, a stale version)."""

    code = "conflict"
    status = 409


class InvalidTransition(Conflict):
    code = "invalid_transition"


class QuotaExceeded(Conflict):
    code = "quota_exceeded"
