"""Checks a form's answers against its fields (the form is data: FormField rows)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.files.uploadedfile import UploadedFile

from ailab.common.errors import ValidationError
from ailab.common.validation import refuse_control_chars
from ailab.events.models import Event, FieldKind, FormField

TEXT_ANSWER_MAX = 2000
FILE_MAX_BYTES = 10 * 1024 * 1024


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true", "on", "yes")


def _one(field: FormField, value: Any, upload: UploadedFile | None) -> tuple[str, Any] | None:
    name = f"answers.{field.key}"
    if field.kind == FieldKind.FILE:
        if upload is None:
            if field.required:
                raise ValidationError("attach a file", field=name)
            return None
        if upload.size and upload.size > FILE_MAX_BYTES:
            raise ValidationError(f"at most {FILE_MAX_BYTES} bytes", field=name)
        return field.key, (upload.name or "file")[-200:]
    if field.kind == FieldKind.CONSENT:
        given = _truthy(value) if value not in (None, "") else False
        if field.required and not given:
            raise ValidationError("consent is required to register", field=name)
        return field.key, given
    text = "" if value is None else str(value).strip()
    if not text:
        if field.required:
            raise ValidationError("this field is required", field=name)
        return None
    if field.kind == FieldKind.CHOICE:
        if text not in field.choices:
            raise ValidationError(f"one of: {', '.join(field.choices)}", field=name)
        return field.key, text
    if len(text) > TEXT_ANSWER_MAX:
        raise ValidationError(f"at most {TEXT_ANSWER_MAX} characters", field=name)
    return field.key, refuse_control_chars(text.replace("\r\n", "\n"), field=name, allow_tab=True)


def clean_answers(
    event: Event,
    form: str,
    answers: Mapping[str, Any],
    files: Mapping[str, UploadedFile] | None = None,
) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    """Answers keyed by field key, checked; unknown keys are refused. Returns the answers to
    store and the files to keep."""
    files = files or {}
    fields = list(FormField.objects.filter(event=event, form=form))
    known = {f.key for f in fields}
    for key in [*answers, *files]:
        if key not in known:
            raise ValidationError("no such question on this form", field=f"answers.{key}")
    clean: dict[str, Any] = {}
    kept: dict[str, UploadedFile] = {}
    for field in fields:
        result = _one(field, answers.get(field.key), files.get(field.key))
        if result is not None:
            clean[result[0]] = result[1]
            if field.kind == FieldKind.FILE:
                kept[field.key] = files[field.key]
    return clean, kept
