"""One policy for mail (DESIGN.md rule 5): composed in the service, sent after commit by a
background task, once per idempotency key, retried on failure; a failure never undoes the
service's work and is never swallowed (it shows as a failed task to staff)."""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.core.mail import send_mail
from django_tasks import task

from ailab.common.tasks import enqueue_after_commit, once, register, retrying


def mail_after_commit(*, key: str, subject: str, body: str, to: Sequence[str]) -> None:
    """Send this mail once the current transaction commits; ``key`` names it (a retried or
    rerun task with the same key sends nothing twice). No recipients: nothing is sent."""
    recipients = sorted(set(to))
    if recipients:
        enqueue_after_commit(mail_send, key=key, subject=subject, body=body, to=recipients)


@register
@task()
@retrying
def mail_send(*, key: str, subject: str, body: str, to: list[str], attempt: int = 1) -> bool:
    """The task: send the mail unless a task with ``key`` sent it; True if it sent now."""
    with once(f"mail:{key}") as first:
        if first:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, to)
        return first
