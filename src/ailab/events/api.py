"""/api/v1 events endpoints. Endpoints only translate: parse, access, one service, answer."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status

from ailab.accounts.models import User
from ailab.common.api import AUTH
from ailab.events import selectors, services
from ailab.events.models import Event, Registration

router = Router(tags=["events"])


def _anyone(request: HttpRequest) -> bool:
    """Public reads: a token or session still identifies the caller (join links)."""
    return True


PUBLIC = [*AUTH, _anyone]


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


class SessionOut(Schema):
    id: int
    title: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    room: str | None
    join_url: str | None


class EventOut(Schema):
    id: int
    title: str
    kind: str
    capacity: int | None
    remaining: int | None
    waiting: int
    moderated: bool
    sessions: list[SessionOut]


class RegistrationIn(Schema):
    answers: dict[str, Any] = {}


class RegistrationOut(Schema):
    id: int
    event_id: int
    status: str
    reason: str
    ticket: str | None


class DecisionIn(Schema):
    approve: bool
    reason: str = ""


class CheckInIn(Schema):
    ticket: str


class CheckInOut(Schema):
    registration_id: int
    session_id: int
    new: bool


class VerifyOut(Schema):
    code: str
    person: str
    event: str
    dates: str
    hours: str


def _event_out(user: Any, event: Event) -> dict[str, Any]:
    seats = selectors.event_seats(event)
    links = selectors.sees_join_link(user, event)
    return {
        "id": event.pk, "title": event.title, "kind": event.kind, "capacity": event.capacity,
        "remaining": seats.remaining, "waiting": seats.waiting, "moderated": event.moderated,
        "sessions": [
            {"id": s.pk, "title": s.title, "starts_at": s.starts_at, "ends_at": s.ends_at,
             "room": s.room.name if s.room else None,
             "join_url": (s.join_url or None) if links else None}
            for s in event.sessions.select_related("room")
        ],
    }  # fmt: skip


def _reg_out(user: User, reg: Registration) -> dict[str, Any]:
    own = reg.user_id == user.pk
    return {
        "id": reg.pk, "event_id": reg.event_id, "status": reg.status, "reason": reg.reason,
        "ticket": reg.ticket if own else None,
    }  # fmt: skip


@router.get("/events", response=list[EventOut], auth=PUBLIC)
def event_list(request: HttpRequest) -> list[dict[str, Any]]:
    user = request.user
    return [_event_out(user, e) for e in selectors.event_list_visible_to(user)]


@router.get("/events/{event_id}", response=EventOut, auth=PUBLIC)
def event_detail(request: HttpRequest, event_id: int) -> dict[str, Any]:
    event = selectors.access_event(request.user, event_id)
    return _event_out(request.user, event)


@router.post("/events/{event_id}/registrations", response={201: RegistrationOut}, auth=AUTH)
def registration_create(request: HttpRequest, event_id: int, payload: RegistrationIn) -> Any:
    event = selectors.access_event(_user(request), event_id)
    reg = services.registration_create(actor=_user(request), event=event, answers=payload.answers)
    return Status(201, _reg_out(_user(request), reg))


@router.get("/events/{event_id}/registrations", response=list[RegistrationOut], auth=AUTH)
def registration_list(request: HttpRequest, event_id: int) -> list[dict[str, Any]]:
    event = selectors.access_event(_user(request), event_id, selectors.MANAGE)
    return [_reg_out(_user(request), r) for r in selectors.registration_list_for(event)]


@router.get("/registrations", response=list[RegistrationOut], auth=AUTH)
def my_registrations(request: HttpRequest) -> list[dict[str, Any]]:
    return [_reg_out(_user(request), r) for r in selectors.registration_list_of(_user(request))]


@router.post("/registrations/{registration_id}/withdraw", response=RegistrationOut, auth=AUTH)
def registration_withdraw(request: HttpRequest, registration_id: int) -> dict[str, Any]:
    reg = selectors.access_registration(_user(request), registration_id)
    services.registration_withdraw(actor=_user(request), registration=reg)
    reg.refresh_from_db()
    return _reg_out(_user(request), reg)


@router.post("/registrations/{registration_id}/decision", response=RegistrationOut, auth=AUTH)
def registration_decide(
    request: HttpRequest, registration_id: int, payload: DecisionIn
) -> dict[str, Any]:
    reg = selectors.access_registration(_user(request), registration_id, selectors.MANAGE)
    services.registration_decide(
        actor=_user(request), registration=reg, approve=payload.approve, reason=payload.reason
    )
    reg.refresh_from_db()
    return _reg_out(_user(request), reg)


@router.post("/sessions/{session_id}/check-ins", response=CheckInOut, auth=AUTH)
def check_in(request: HttpRequest, session_id: int, payload: CheckInIn) -> dict[str, Any]:
    session = selectors.access_session(_user(request), session_id, selectors.MANAGE)
    record, new = services.check_in_staff(
        actor=_user(request), session=session, ticket=payload.ticket
    )
    return {"registration_id": record.registration_id, "session_id": session.pk, "new": new}


@router.get("/certificates/{code}", response=VerifyOut, auth=None)
def certificate_verify(request: HttpRequest, code: str) -> dict[str, Any]:
    cert = selectors.certificate_by_code(code)
    return {"code": cert.code, "person": cert.person, "event": cert.event_title,
            "dates": cert.dates, "hours": cert.hours}  # fmt: skip
