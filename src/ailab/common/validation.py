"""Turn Django's model validation into DomainError, so every service reports field + reason."""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models

from ailab.common.errors import ValidationError


def full_clean_or_raise(instance: models.Model, *, exclude: list[str] | None = None) -> None:
    """Run ``full_clean`` and raise our ValidationError naming every bad field."""
    try:
        instance.full_clean(exclude=exclude)
    except DjangoValidationError as exc:
        raise from_django(exc) from exc


def from_django(exc: DjangoValidationError) -> ValidationError:
    errors: list[tuple[str, str]] = []
    if hasattr(exc, "error_dict"):
        for field, field_errors in exc.error_dict.items():
            for error in field_errors:
                message = " ".join(error.messages)
                errors.append(("body" if field == "__all__" else field, message))
    else:
        errors = [("body", m) for m in exc.messages]
    return ValidationError(errors=errors)


def require_text(value: str | None, *, field: str, max_length: int, blank: bool = False) -> str:
    """Strip a text input and check it is present (unless ``blank``) and not too long."""
    text = (value or "").strip()
    if not text and not blank:
        raise ValidationError("this field is required", field=field)
    if len(text) > max_length:
        raise ValidationError(f"at most {max_length} characters (got {len(text)})", field=field)
    return text


def _is_control(ch: str) -> bool:
    # Cc: control characters (newline, NUL, escape); Cf: format characters (right-to-left
    # override, zero-width space and joiners); Zl/Zp: line and paragraph separators.
    return unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")


def refuse_control_chars(value: str, *, field: str, allow_tab: bool = False) -> str:
    """``value`` unchanged, or a ValidationError naming ``field`` if it holds a control or
    format character: such characters inject lines into scripts and logs and disguise text."""
    for i, ch in enumerate(value):
        if _is_control(ch) and not (allow_tab and ch == "\t"):
            raise ValidationError(
                f"must not contain control or format characters (U+{ord(ch):04X} at {i})",
                field=field,
            )
    return value
