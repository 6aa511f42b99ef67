"""Reads for events: one ``access_<entity>`` per object fetched for a user (DESIGN.md rule 3).

A missing object and a forbidden one answer alike (NotFound), except that a signed-in user
who may see an object but not act on it gets PermissionDenied.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet
from django.utils import timezone

from ailab.accounts.models import Membership, Role, User
from ailab.accounts.roles import is_lab_staff
from ailab.common.errors import NotAuthenticated, NotFound, PermissionDenied
from ailab.events.models import (
    SEATED,
    Certificate,
    Event,
    Registration,
    RegistrationStatus,
    Session,
)

VIEW = "view"
MANAGE = "manage"
Actor = User | AnonymousUser

# Roles in an organiser organisation that organise its events.
ORGANISER_ROLES = (Role.FOUNDER, Role.LAB_STAFF)


def manages_event(user: Actor, event: Event) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    assert isinstance(user, User)
    if is_lab_staff(user) or event.created_by_id == user.pk:
        return True
    return Membership.objects.filter(
        user=user, role__in=ORGANISER_ROLES, organisation__in=event.organisers.all()
    ).exists()


def event_list_visible_to(user: Actor) -> QuerySet[Event]:
    events = Event.objects.prefetch_related("organisers", "sessions")
    if user.is_authenticated and isinstance(user, User) and is_lab_staff(user):
        return events
    if not user.is_authenticated:
        return events.filter(published=True)
    organised = Membership.objects.filter(user=user, role__in=ORGANISER_ROLES).values(
        "organisation"
    )
    return events.filter(
        Q(published=True) | Q(created_by=user) | Q(organisers__in=organised)
    ).distinct()


def access_event(user: Actor, event_id: int, action: str = VIEW) -> Event:
    event = Event.objects.filter(pk=event_id).first()
    if event is None:
        raise NotFound("no such event", field="event")
    manager = manages_event(user, event)
    if not event.published and not manager:
        raise NotFound("no such event", field="event")
    if action == MANAGE and not manager:
        if not user.is_authenticated:
            raise NotAuthenticated("sign in to organise events")
        raise PermissionDenied("only the event's organisers may do this", field="event")
    return event


def access_session(user: Actor, session_id: int, action: str = VIEW) -> Session:
    session = Session.objects.select_related("event", "room").filter(pk=session_id).first()
    if session is None:
        raise NotFound("no such session", field="session")
    access_event(user, session.event_id, action)
    return session


def access_registration(user: Actor, registration_id: int, action: str = VIEW) -> Registration:
    """The registrant sees and withdraws their own; the event's organisers see and decide."""
    if not user.is_authenticated:
        raise NotAuthenticated("sign in to see registrations")
    reg = Registration.objects.select_related("event", "user").filter(pk=registration_id).first()
    if reg is None:
        raise NotFound("no such registration", field="registration")
    own = reg.user_id == user.pk
    manager = manages_event(user, reg.event)
    if not (own or manager):
        raise NotFound("no such registration", field="registration")
    if action == MANAGE and not manager:
        raise PermissionDenied("only the event's organisers may decide", field="registration")
    return reg


def access_ticket(user: Actor, ticket: str) -> Registration:
    """A ticket by its QR token, for its holder only."""
    if not user.is_authenticated:
        raise NotAuthenticated("sign in to see your ticket")
    reg = Registration.objects.select_related("event").filter(ticket=ticket, user=user).first()
    if reg is None:
        raise NotFound("no such ticket", field="ticket")
    return reg


def registration_list_of(user: User) -> QuerySet[Registration]:
    return (
        Registration.objects.filter(user=user)
        .select_related("event")
        .prefetch_related("check_ins")
        .order_by("-created_at")
    )


def registration_list_for(event: Event, *, status: str | None = None) -> QuerySet[Registration]:
    regs = Registration.objects.filter(event=event).select_related("user")
    if status:
        regs = regs.filter(status=status)
    return regs.order_by("created_at", "id")


def waiting_list(event: Event) -> QuerySet[Registration]:
    return Registration.objects.filter(event=event, status=RegistrationStatus.WAITLISTED).order_by(
        "waitlisted_at", "id"
    )


@dataclass(frozen=True)
class Seats:
    capacity: int | None
    taken: int
    reserved_free: int
    general_free: int | None
    waiting: int

    @property
    def remaining(self) -> int | None:
        if self.general_free is None:
            return None
        return self.general_free + self.reserved_free


def event_seats(event: Event, *, now: object = None) -> Seats:
    """Seats taken and left; before the release date reserved seats count apart."""
    seated = Registration.objects.filter(event=event, status__in=SEATED)
    taken = seated.count()
    waiting = waiting_list(event).count()
    if event.capacity is None:
        return Seats(None, taken, 0, None, waiting)
    moment = now or timezone.now()
    reserving = event.reserved_seats and (
        event.reserved_until is None or moment < event.reserved_until  # type: ignore[operator]
    )
    if not reserving:
        return Seats(event.capacity, taken, 0, max(event.capacity - taken, 0), waiting)
    reserved_taken = seated.filter(reserved=True).count()
    general = event.capacity - event.reserved_seats
    return Seats(
        event.capacity,
        taken,
        max(event.reserved_seats - reserved_taken, 0),
        max(general - (taken - reserved_taken), 0),
        waiting,
    )


def may_take_reserved(event: Event, user: User) -> bool:
    return Membership.objects.filter(user=user, organisation__in=event.reserved_for.all()).exists()


def sees_join_link(user: Actor, event: Event) -> bool:
    if manages_event(user, event):
        return True
    return bool(
        user.is_authenticated
        and Registration.objects.filter(
            event=event, user_id=user.pk, status=RegistrationStatus.APPROVED
        ).exists()
    )


def attendance_rows(event: Event) -> list[dict[str, object]]:
    """One row per approved registrant: sessions attended, share, hours (for the export)."""
    sessions = list(event.sessions.all())
    rows = []
    regs = registration_list_for(event, status=RegistrationStatus.APPROVED).prefetch_related(
        "check_ins"
    )
    for reg in regs:
        attended = {c.session_id for c in reg.check_ins.all()}
        seconds = sum(s.seconds for s in sessions if s.pk in attended)
        row: dict[str, object] = {
            "registration": reg.pk,
            "email": reg.user.email,
            "name": reg.user.get_full_name(),
            "attended": len(attended),
            "sessions": len(sessions),
            "hours": f"{seconds / 3600:.1f}",
        }
        for s in sessions:
            row[f"session_{s.pk}"] = "yes" if s.pk in attended else ""
        rows.append(row)
    return rows


def certificate_by_code(code: str) -> Certificate:
    cert = (
        Certificate.objects.select_related("registration__event")
        .filter(code=code.strip().upper())
        .first()
    )
    if cert is None:
        raise NotFound("no certificate with this code", field="code")
    return cert
