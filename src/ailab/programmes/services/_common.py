"""Small checks shared by the programmes services."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from ailab.accounts.models import User
from ailab.accounts.roles import is_lab_staff
from ailab.common.errors import PermissionDenied, ValidationError


def require_staff(actor: User, what: str) -> None:
    if not is_lab_staff(actor):
        raise PermissionDenied(f"only lab staff may {what}")


def decimal_of(value: object, *, field: str) -> Decimal:
    """An exact Decimal from a Decimal, int or string; floats are refused (not exact)."""
    if isinstance(value, bool | float):
        raise ValidationError("give an exact number (a decimal string), not a float", field=field)
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError(f"not a number: {value!r}", field=field) from exc
    if not number.is_finite():
        raise ValidationError("must be a finite number", field=field)
    return number


def int_of(value: object, *, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError("must be a whole number", field=field)
    if not low <= value <= high:
        raise ValidationError(f"must be between {low} and {high} (got {value})", field=field)
    return value
