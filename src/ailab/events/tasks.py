"""The events app's background tasks: reminders.

A reminder goes to each registrant of its segment once: each delivery is a ``once`` key
recorded in the same transaction as its ``ReminderDelivery`` row, after the mail went out,
so a task that crashed half-way and is retried sends only to those it had not reached.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone
from django_tasks import task

from ailab.common.tasks import once, register, retrying
from ailab.events.models import Registration, Reminder, ReminderDelivery

log = logging.getLogger(__name__)


def reminder_enqueue(reminder_id: int) -> None:
    """Queue the reminder's task for its ``send_at`` (now if due, or if the backend cannot
    defer: ``reminders_send_due`` then sends it when due)."""
    reminder = Reminder.objects.get(pk=reminder_id)
    key = f"event-reminder:{reminder_id}"
    now = timezone.now()
    if reminder.send_at <= now:
        reminder_send_task.enqueue(reminder_id=reminder_id, key=key)
    elif reminder_send_task.get_backend().supports_defer:
        reminder_send_task.using(run_after=reminder.send_at).enqueue(
            reminder_id=reminder_id, key=key
        )


def reminders_send_due(*, now: dt.datetime | None = None) -> int:
    """Queue every due, unfinished reminder (for backends without deferred tasks)."""
    due = Reminder.objects.filter(send_at__lte=now or timezone.now(), finished_at__isnull=True)
    count = 0
    for reminder in due:
        reminder_send_task.enqueue(reminder_id=reminder.pk, key=f"event-reminder:{reminder.pk}")
        count += 1
    return count


@register
@task()
@retrying
def reminder_send_task(*, reminder_id: int, key: str, attempt: int = 1) -> int:
    """Send the reminder to its segment; returns how many mails went out in this run."""
    reminder = Reminder.objects.select_related("event").filter(pk=reminder_id).first()
    if reminder is None or reminder.finished_at is not None:
        return 0
    sent = 0
    regs = Registration.objects.filter(event=reminder.event, status=reminder.segment)
    for reg in regs.select_related("user").order_by("id"):
        with once(f"{key}:{reg.pk}") as first:
            if not first:
                continue
            send_mail(
                f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{reminder.subject}",
                f"{reminder.body}\n\n— {reminder.event.title}",
                settings.DEFAULT_FROM_EMAIL,
                [reg.user.email],
            )
            ReminderDelivery.objects.create(
                reminder=reminder, registration=reg, sent_at=timezone.now()
            )
            sent += 1
    Reminder.objects.filter(pk=reminder.pk).update(finished_at=timezone.now())
    return sent
