"""Login throttling with django-axes: who a failed sign-in counts against, and unlocking."""

from __future__ import annotations

from typing import Any

from axes.models import AccessAttempt
from axes.utils import reset
from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest

from ailab.accounts import roles
from ailab.accounts.models import User
from ailab.common.errors import PermissionDenied


def username_of(request: HttpRequest | None, credentials: dict[str, Any] | None) -> str | None:
    """The account a sign-in names, the same whichever form sent it: allauth's ``login``
    field, the admin's ``username``, or the ``email`` allauth passes to ``authenticate``."""
    for source in (credentials or {}, getattr(request, "POST", None) or {}):
        for key in ("email", "username", "login"):
            value = source.get(key)
            if value:
                return str(value).strip().lower()
    return None


def lockout_list(*, actor: User) -> QuerySet[AccessAttempt]:
    """Every account or address with failed sign-ins in the cool-off window, most failed first."""
    if not roles.is_lab_staff(actor):
        raise PermissionDenied("only lab staff may see locked accounts")
    attempts: QuerySet[AccessAttempt] = AccessAttempt.objects.order_by(
        "-failures_since_start", "-attempt_time"
    )
    return attempts


def lockout_limit() -> int:
    return int(settings.AXES_FAILURE_LIMIT)


def lockout_clear(*, actor: User, attempt_id: int) -> int:
    """Unlock the account and the address of one recorded attempt; returns how many cleared."""
    if not roles.is_lab_staff(actor):
        raise PermissionDenied("only lab staff may unlock accounts")
    attempt = AccessAttempt.objects.filter(pk=attempt_id).first()
    if attempt is None:
        return 0
    cleared = 0
    if attempt.username:
        cleared += reset(username=attempt.username)
    if attempt.ip_address:
        cleared += reset(ip=attempt.ip_address)
    return cleared
