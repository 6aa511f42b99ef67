"""Mails to registrants, composed in the service and sent after commit by a background task,
once per registration and status (``common.mail``)."""

from __future__ import annotations

from django.conf import settings

from ailab.common.mail import mail_after_commit
from ailab.events.models import Registration, RegistrationStatus

SUBJECTS = {
    RegistrationStatus.APPROVED: "You are registered for {event}",
    RegistrationStatus.PENDING: "Your registration for {event} awaits approval",
    RegistrationStatus.WAITLISTED: "You are on the waiting list for {event}",
    RegistrationStatus.REJECTED: "Your registration for {event} was declined",
}


def registration_mail(reg: Registration, *, promoted: bool = False) -> None:
    """Tell the registrant their registration's new status (a status is reached once, so the
    key makes a retried task send nothing twice)."""
    if reg.status not in SUBJECTS:
        return
    subject = SUBJECTS[RegistrationStatus(reg.status)].format(event=reg.event.title)
    if promoted:
        subject = f"A seat is yours: {reg.event.title}"
    lines = [f"Hello {reg.user.get_full_name()},", "", subject + "."]
    if promoted:
        lines.append("A seat freed and you were the first on the waiting list.")
        if reg.status == RegistrationStatus.PENDING:
            lines.append("The organisers will confirm your registration.")
    if reg.status == RegistrationStatus.REJECTED and reg.reason:
        lines += ["", f"Reason: {reg.reason}"]
    mail_after_commit(
        key=f"event-registration:{reg.pk}:{reg.status}",
        subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{subject}",
        body="\n".join(lines),
        to=[reg.user.email],
    )
