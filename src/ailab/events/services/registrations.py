"""Registrations: register, decide, withdraw, and the waiting list's promotion.

Every change of who holds a seat locks the event's row first (``select_for_update``), so two
withdrawals at once are counted one after the other and promote exactly two people.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from ailab.accounts.models import TEXT_MAX, User
from ailab.common.errors import Conflict, InvalidTransition, NotFound, PermissionDenied
from ailab.common.transitions import transition_write
from ailab.common.validation import require_text
from ailab.events import mail
from ailab.events.answers import clean_answers
from ailab.events.models import (
    ACTIVE,
    REGISTRATION_TRANSITIONS,
    Event,
    FollowUpResponse,
    FormKind,
    Registration,
    RegistrationFile,
    RegistrationStatus,
)
from ailab.events.selectors import event_seats, manages_event, may_take_reserved, waiting_list

S = RegistrationStatus


def registration_transition(reg: Registration, *, to: str, **fields: Any) -> None:
    """The one writer of a registration's status."""
    if not transition_write(REGISTRATION_TRANSITIONS, reg, to=to, expect=reg.status, **fields):
        raise Conflict("the registration changed meanwhile; reload", field="status")


def _lock(event: Event) -> Event:
    return Event.objects.select_for_update().get(pk=event.pk)


def _seat_for(event: Event, user: User) -> bool | None:
    """None: no seat; else whether the seat is a reserved one."""
    seats = event_seats(event)
    if seats.general_free is None or seats.general_free > 0:
        return False
    if seats.reserved_free > 0 and may_take_reserved(event, user):
        return True
    return None


def _mail(reg: Registration, *, promoted: bool = False) -> None:
    mail.registration_mail(reg, promoted=promoted)


@transaction.atomic
def registration_create(
    *,
    actor: User,
    event: Event,
    answers: Mapping[str, Any] | None = None,
    files: Mapping[str, UploadedFile] | None = None,
) -> Registration:
    """Register ``actor``: a seat if one is left (pending when moderated), else the waiting
    list. The answers are checked against the event's registration form."""
    if not event.published:
        raise NotFound("no such event", field="event")
    clean, kept = clean_answers(event, FormKind.REGISTRATION, answers or {}, files)
    event = _lock(event)
    if Registration.objects.filter(event=event, user=actor, status__in=ACTIVE).exists():
        raise Conflict("you are already registered for this event", field="event")
    reserved = _seat_for(event, actor)
    now = timezone.now()
    if reserved is None:
        status, waitlisted_at = S.WAITLISTED, now
    else:
        status, waitlisted_at = (S.PENDING if event.moderated else S.APPROVED), None
    reg = Registration.objects.create(
        event=event,
        user=actor,
        status=status,
        answers=clean,
        reserved=bool(reserved),
        waitlisted_at=waitlisted_at,
    )
    for key, upload in kept.items():
        RegistrationFile.objects.create(registration=reg, key=key, file=upload, name=clean[key])
    _mail(reg)
    return reg


def _promote(event: Event) -> list[Registration]:
    """Give free seats to the waiting list, in the order people joined it. The caller holds
    the event's lock. Idempotent: with no free seat it changes nothing."""
    promoted = []
    for reg in waiting_list(event).select_related("user"):
        if event_seats(event).remaining == 0:
            break
        reserved = _seat_for(event, reg.user)
        if reserved is None:
            continue  # only a reserved seat is free, and this person may not take it
        to = S.PENDING if event.moderated else S.APPROVED
        registration_transition(reg, to=to, reserved=reserved, waitlisted_at=None)
        _mail(reg, promoted=True)
        promoted.append(reg)
    return promoted


@transaction.atomic
def waiting_list_promote(*, event: Event) -> list[Registration]:
    """Fill seats freed by a change of capacity or a release date; safe to call again."""
    return _promote(_lock(event))


@transaction.atomic
def registration_withdraw(*, actor: User, registration: Registration) -> list[Registration]:
    """The registrant (or an organiser) withdraws it; the freed seat goes to the waiting list
    in the same transaction. Returns those promoted."""
    if registration.user_id != actor.pk and not manages_event(actor, registration.event):
        raise PermissionDenied("only the registrant may withdraw", field="registration")
    event = _lock(registration.event)
    registration.refresh_from_db()
    if registration.status not in ACTIVE:
        raise InvalidTransition(
            f"a {registration.status} registration cannot be withdrawn", field="status"
        )
    registration_transition(registration, to=S.WITHDRAWN)
    return _promote(event)


@transaction.atomic
def registration_decide(
    *, actor: User, registration: Registration, approve: bool, reason: str = ""
) -> list[Registration]:
    """An organiser approves a pending registration or rejects one (with a reason); the
    registrant is mailed after commit; a rejection frees a seat for the waiting list."""
    if not manages_event(actor, registration.event):
        raise PermissionDenied("only the event's organisers may decide", field="registration")
    event = _lock(registration.event)
    registration.refresh_from_db()
    reason = require_text(reason, field="reason", max_length=TEXT_MAX, blank=approve)
    if approve:
        if registration.status != S.PENDING:
            raise InvalidTransition(
                f"only pending registrations are approved (this one is {registration.status})",
                field="status",
            )
        registration_transition(registration, to=S.APPROVED, decided_by=actor, reason=reason)
        _mail(registration)
        return []
    registration_transition(registration, to=S.REJECTED, decided_by=actor, reason=reason)
    _mail(registration)
    return _promote(event)


@transaction.atomic
def follow_up_submit(
    *, actor: User, registration: Registration, answers: Mapping[str, Any]
) -> FollowUpResponse:
    """The follow-up form, for approved registrants only; answering again replaces it."""
    if registration.user_id != actor.pk:
        raise NotFound("no such registration", field="registration")
    if registration.status != S.APPROVED:
        raise PermissionDenied(
            "the follow-up form is open to approved registrants only", field="registration"
        )
    clean, _ = clean_answers(registration.event, FormKind.FOLLOW_UP, answers)
    response, _ = FollowUpResponse.objects.update_or_create(
        registration=registration, defaults={"answers": clean}
    )
    return response
