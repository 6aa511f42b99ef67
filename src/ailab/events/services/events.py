"""Writes for events, rooms, sessions and form fields. One transaction per call."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction

from ailab.accounts.models import NAME_MAX, TEXT_MAX, Organisation, User
from ailab.accounts.roles import is_lab_staff, manages_organisation
from ailab.common.errors import Conflict, PermissionDenied, ValidationError
from ailab.common.validation import refuse_control_chars, require_text
from ailab.events.models import (
    DEFAULT_CERTIFICATE,
    Event,
    EventKind,
    FieldKind,
    FormField,
    FormKind,
    Room,
    Series,
    Session,
)
from ailab.events.selectors import manages_event


def _aware(value: dt.datetime, field: str) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise ValidationError("an aware date and time (with a time zone)", field=field)
    return value.astimezone(dt.UTC)


def _require_manager(actor: User, event: Event) -> None:
    if not manages_event(actor, event):
        raise PermissionDenied("only the event's organisers may do this", field="event")


def series_create(*, actor: User, title: str, description: str = "") -> Series:
    if not is_lab_staff(actor):
        raise PermissionDenied("only lab staff create series")
    title = require_text(title, field="title", max_length=NAME_MAX)
    if Series.objects.filter(title=title).exists():
        raise Conflict("a series with this title exists", field="title")
    return Series.objects.create(title=title, description=description)


@transaction.atomic
def event_create(
    *,
    actor: User,
    title: str,
    kind: str,
    organisers: Iterable[Organisation],
    description: str = "",
    series: Series | None = None,
    capacity: int | None = None,
    moderated: bool = False,
    reserved_seats: int = 0,
    reserved_for: Iterable[Organisation] = (),
    reserved_until: dt.datetime | None = None,
    min_attendance_pct: int = 0,
    certificate_template: str = DEFAULT_CERTIFICATE,
    published: bool = True,
) -> Event:
    """An event organised by ``organisers``; the actor must manage one of them (or be staff)."""
    organisers = list(organisers)
    if not organisers:
        raise ValidationError("at least one organiser", field="organisers")
    if not any(manages_organisation(actor, o.pk) for o in organisers):
        raise PermissionDenied("you organise for none of these organisations", field="organisers")
    title = refuse_control_chars(
        require_text(title, field="title", max_length=NAME_MAX), field="title"
    )
    if kind not in EventKind.values:
        raise ValidationError(f"one of {', '.join(EventKind.values)}", field="kind")
    if capacity is not None and capacity < 1:
        raise ValidationError("at least 1, or empty for no limit", field="capacity")
    if reserved_seats < 0 or (capacity is not None and reserved_seats > capacity):
        raise ValidationError("between 0 and the capacity", field="reserved_seats")
    if reserved_seats and capacity is None:
        raise ValidationError("reserved seats need a capacity", field="reserved_seats")
    if not 0 <= min_attendance_pct <= 100:
        raise ValidationError("a percentage from 0 to 100", field="min_attendance_pct")
    event = Event.objects.create(
        title=title,
        kind=kind,
        description=require_text(description, field="description", max_length=TEXT_MAX, blank=True),
        series=series,
        created_by=actor,
        capacity=capacity,
        moderated=moderated,
        reserved_seats=reserved_seats,
        reserved_until=_aware(reserved_until, "reserved_until") if reserved_until else None,
        min_attendance_pct=min_attendance_pct,
        certificate_template=require_text(
            certificate_template, field="certificate_template", max_length=TEXT_MAX
        ),
        published=published,
    )
    event.organisers.set(organisers)
    event.reserved_for.set(list(reserved_for))
    return event


def room_create(*, actor: User, name: str, address: str = "") -> Room:
    if not is_lab_staff(actor):
        raise PermissionDenied("only lab staff add rooms")
    name = require_text(name, field="name", max_length=NAME_MAX)
    if Room.objects.filter(name=name).exists():
        raise Conflict("a room with this name exists", field="name")
    return Room.objects.create(name=name, address=address)


@transaction.atomic
def session_add(
    *,
    actor: User,
    event: Event,
    title: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    room: Room | None = None,
    join_url: str = "",
) -> Session:
    """A session in the timetable. Two sessions never share a room at the same time: the
    room's row is locked, so two organisers booking it at once are checked one after the
    other."""
    _require_manager(actor, event)
    starts_at, ends_at = _aware(starts_at, "starts_at"), _aware(ends_at, "ends_at")
    if ends_at <= starts_at:
        raise ValidationError("must be after the start", field="ends_at")
    if join_url and not join_url.startswith("https://"):
        raise ValidationError("an https:// link", field="join_url")
    if room is not None:
        Room.objects.select_for_update().get(pk=room.pk)
        clash = Session.objects.filter(
            room=room, starts_at__lt=ends_at, ends_at__gt=starts_at
        ).first()
        if clash is not None:
            raise Conflict(
                f"{room.name} is booked then for {clash.event.title}: {clash.title}",
                field="room",
            )
    return Session.objects.create(
        event=event,
        title=refuse_control_chars(
            require_text(title, field="title", max_length=NAME_MAX), field="title"
        ),
        starts_at=starts_at,
        ends_at=ends_at,
        room=room,
        join_url=join_url,
    )


@transaction.atomic
def form_field_add(
    *,
    actor: User,
    event: Event,
    key: str,
    label: str,
    kind: str,
    form: str = FormKind.REGISTRATION,
    required: bool = False,
    choices: Iterable[str] = (),
) -> FormField:
    _require_manager(actor, event)
    if form not in FormKind.values:
        raise ValidationError(f"one of {', '.join(FormKind.values)}", field="form")
    if kind not in FieldKind.values:
        raise ValidationError(f"one of {', '.join(FieldKind.values)}", field="kind")
    choices = [require_text(c, field="choices", max_length=NAME_MAX) for c in choices]
    if kind == FieldKind.CHOICE and len(choices) < 2:
        raise ValidationError("a choice field needs at least two choices", field="choices")
    if not key.replace("_", "").replace("-", "").isalnum() or len(key) > 50:
        raise ValidationError("letters, digits, '-' or '_', at most 50", field="key")
    if FormField.objects.filter(event=event, form=form, key=key).exists():
        raise Conflict("this form already has a field with this key", field="key")
    position = FormField.objects.filter(event=event, form=form).count()
    return FormField.objects.create(
        event=event,
        form=form,
        key=key,
        label=require_text(label, field="label", max_length=NAME_MAX),
        kind=kind,
        required=required,
        choices=choices,
        position=position,
    )
