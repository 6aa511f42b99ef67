"""Check-in (staff and self), attendance and certificates."""

from __future__ import annotations

import datetime as dt
from string import Template

from django.db import IntegrityError, transaction
from django.utils import timezone

from ailab.accounts.models import User
from ailab.common.errors import Conflict, NotFound, PermissionDenied, ValidationError
from ailab.events.models import (
    Certificate,
    CheckIn,
    Event,
    Registration,
    RegistrationStatus,
    Session,
)
from ailab.events.selectors import manages_event

SELF_CHECK_IN_BEFORE = dt.timedelta(minutes=15)


def _record(reg: Registration, session: Session, by: User | None) -> tuple[CheckIn, bool]:
    """Idempotent: a second check-in returns the first."""
    if reg.status != RegistrationStatus.APPROVED:
        raise PermissionDenied(
            f"this ticket is {reg.get_status_display().lower()}, not approved", field="ticket"
        )
    existing = CheckIn.objects.filter(registration=reg, session=session).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            return CheckIn.objects.create(registration=reg, session=session, by=by), True
    except IntegrityError:  # checked in by someone else at the same moment
        return CheckIn.objects.get(registration=reg, session=session), False


@transaction.atomic
def check_in_staff(*, actor: User, session: Session, ticket: str) -> tuple[CheckIn, bool]:
    """An organiser scans or types a ticket's code at the door. Returns (check-in, new)."""
    if not manages_event(actor, session.event):
        raise PermissionDenied("only the event's organisers check people in", field="session")
    reg = (
        Registration.objects.select_related("user")
        .filter(ticket=(ticket or "").strip(), event_id=session.event_id)
        .first()
    )
    if reg is None:
        raise NotFound("no ticket with this code for this event", field="ticket")
    return _record(reg, session, actor)


@transaction.atomic
def check_in_self(
    *, actor: User, session: Session, ticket: str, now: dt.datetime | None = None
) -> tuple[CheckIn, bool]:
    """The ticket's holder checks in from 15 minutes before the session until its end."""
    reg = Registration.objects.filter(
        ticket=(ticket or "").strip(), user=actor, event_id=session.event_id
    ).first()
    if reg is None:
        raise NotFound("no ticket with this code for this event", field="ticket")
    now = now or timezone.now()
    if now < session.starts_at - SELF_CHECK_IN_BEFORE:
        raise ValidationError("self check-in opens 15 minutes before the session", field="session")
    if now > session.ends_at:
        raise ValidationError("the session has ended", field="session")
    return _record(reg, session, None)


def _attended(reg: Registration) -> tuple[int, int, int]:
    """(sessions attended, sessions in the event, seconds attended)."""
    sessions = list(reg.event.sessions.all())
    attended = set(reg.check_ins.values_list("session_id", flat=True))
    seconds = sum(s.seconds for s in sessions if s.pk in attended)
    return len(attended), len(sessions), seconds


def certificate_eligible(reg: Registration) -> tuple[bool, str]:
    if reg.status != RegistrationStatus.APPROVED:
        return False, "only approved registrants receive certificates"
    attended, total, _ = _attended(reg)
    if attended == 0:
        return False, "no check-in recorded: certificates go to those who attended"
    share = 100 * attended / total if total else 0
    if share < reg.event.min_attendance_pct:
        return False, (
            f"attended {attended} of {total} sessions; {reg.event.min_attendance_pct}% are needed"
        )
    return True, ""


def _dates(event: Event) -> str:
    sessions = list(event.sessions.all())
    if not sessions:
        return ""
    tz = timezone.get_default_timezone()
    first = sessions[0].starts_at.astimezone(tz).date()
    last = max(s.ends_at for s in sessions).astimezone(tz).date()
    if first == last:
        return first.strftime("%-d %B %Y")
    return f"{first.strftime('%-d %B %Y')} to {last.strftime('%-d %B %Y')}"


@transaction.atomic
def certificate_issue(*, actor: User, registration: Registration) -> Certificate:
    """A certificate for one attendee (its holder may ask for their own). Refused to anyone
    who did not check in. Issuing again returns the existing certificate."""
    reg = (
        Registration.objects.select_for_update()
        .select_related("event", "user")
        .get(pk=registration.pk)
    )
    if reg.user_id != actor.pk and not manages_event(actor, reg.event):
        raise PermissionDenied("only the attendee or the organisers", field="registration")
    existing = Certificate.objects.filter(registration=reg).first()
    if existing is not None:
        return existing
    ok, why = certificate_eligible(reg)
    if not ok:
        raise Conflict(why, field="registration")
    _, _, seconds = _attended(reg)
    person = reg.user.get_full_name()
    dates = _dates(reg.event)
    text = Template(reg.event.certificate_template).safe_substitute(
        person=person, event=reg.event.title, dates=dates, hours=f"{seconds / 3600:.1f}"
    )
    return Certificate.objects.create(
        registration=reg,
        person=person,
        event_title=reg.event.title,
        dates=dates,
        seconds=seconds,
        text=text,
    )


def certificate_issue_all(*, actor: User, event: Event) -> tuple[list[Certificate], int]:
    """Certificates for every eligible attendee; (issued or existing, refused count)."""
    if not manages_event(actor, event):
        raise PermissionDenied("only the event's organisers", field="event")
    issued, refused = [], 0
    for reg in event.registrations.filter(status=RegistrationStatus.APPROVED):
        if certificate_eligible(reg)[0]:
            issued.append(certificate_issue(actor=actor, registration=reg))
        else:
            refused += 1
    return issued, refused
