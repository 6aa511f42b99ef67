"""Reminders organisers write to a segment of registrants; sent by ``events.tasks``."""

from __future__ import annotations

import datetime as dt
import functools

from django.db import transaction

from ailab.accounts.models import NAME_MAX, TEXT_MAX, User
from ailab.common.errors import PermissionDenied, ValidationError
from ailab.common.validation import refuse_control_chars, require_text
from ailab.events.models import Event, Reminder, Segment
from ailab.events.selectors import manages_event


@transaction.atomic
def reminder_create(
    *, actor: User, event: Event, segment: str, subject: str, body: str, send_at: dt.datetime
) -> Reminder:
    """A reminder; the task is queued after commit and sends it at ``send_at`` (at once if
    that has passed)."""
    if not manages_event(actor, event):
        raise PermissionDenied("only the event's organisers write reminders", field="event")
    if segment not in Segment.values:
        raise ValidationError(f"one of {', '.join(Segment.values)}", field="segment")
    if not isinstance(send_at, dt.datetime) or send_at.tzinfo is None:
        raise ValidationError("an aware date and time", field="send_at")
    subject = refuse_control_chars(
        require_text(subject, field="subject", max_length=NAME_MAX), field="subject"
    )
    reminder = Reminder.objects.create(
        event=event,
        segment=segment,
        subject=subject,
        body=require_text(body, field="body", max_length=TEXT_MAX),
        send_at=send_at,
        created_by=actor,
    )
    from ailab.events import tasks

    transaction.on_commit(functools.partial(tasks.reminder_enqueue, reminder.pk))
    return reminder
