"""Rooms, check-in, certificates, calendars, reminders, and concurrent withdrawals."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.core import mail
from django.db import connection, connections
from django.utils import timezone
from icalendar import Calendar

from ailab.common.errors import Conflict, NotFound, PermissionDenied, ValidationError
from ailab.events import documents, services
from ailab.events.models import Registration, RegistrationStatus, ReminderDelivery, Room
from tests.events.conftest import Lab, person

S = RegistrationStatus


@pytest.mark.django_db
def test_two_sessions_never_overlap_in_one_room(lab: Lab) -> None:
    """A session in a booked room at an overlapping time is refused naming the room; back to
    back is fine; another room is fine."""
    event = lab.event()
    hall = services.room_create(actor=lab.staff, name="Hall A")
    other = services.room_create(actor=lab.staff, name="Hall B")
    lab.session(event, hours_from_now=1, length_h=2, room=hall)
    with pytest.raises(Conflict) as exc:
        lab.session(event, hours_from_now=2, length_h=2, room=hall, title="Clash")
    assert exc.value.field == "room"
    lab.session(event, hours_from_now=3, length_h=1, room=hall, title="After")
    lab.session(event, hours_from_now=2, length_h=2, room=other, title="Elsewhere")
    assert event.sessions.count() == 3
    with pytest.raises(PermissionDenied):
        services.room_create(actor=lab.organiser, name="Mine")
    assert not Room.objects.filter(name="Mine").exists()


@pytest.mark.django_db
def test_staff_and_self_check_in_and_certificates(lab: Lab) -> None:
    """Staff check-in is idempotent; self check-in opens 15 min before and closes at the end;
    a certificate goes to one who checked in and is refused to one who did not."""
    event = lab.event(capacity=5, title="Hands-on LLMs")
    session = lab.session(event, hours_from_now=0.1, length_h=3)
    a, b, w = person("a@x.example"), person("b@x.example"), person("w@x.example")
    ra = services.registration_create(actor=a, event=event)
    rb = services.registration_create(actor=b, event=event)
    _, new = services.check_in_staff(actor=lab.organiser, session=session, ticket=ra.ticket)
    _, again = services.check_in_staff(actor=lab.organiser, session=session, ticket=ra.ticket)
    assert (new, again) == (True, False)
    assert ra.check_ins.count() == 1
    with pytest.raises(PermissionDenied):
        services.check_in_staff(actor=lab.stranger, session=session, ticket=rb.ticket)
    with pytest.raises(NotFound):
        services.check_in_staff(actor=lab.organiser, session=session, ticket="nope")
    early = session.starts_at - dt.timedelta(minutes=16)
    with pytest.raises(ValidationError):
        services.check_in_self(actor=b, session=session, ticket=rb.ticket, now=early)
    with pytest.raises(ValidationError):
        services.check_in_self(
            actor=b,
            session=session,
            ticket=rb.ticket,
            now=session.ends_at + dt.timedelta(seconds=1),
        )
    with pytest.raises(NotFound):  # someone else's ticket
        services.check_in_self(actor=a, session=session, ticket=rb.ticket)
    cert = services.certificate_issue(actor=a, registration=ra)
    assert cert.seconds == 3 * 3600
    assert "Hands-on LLMs" in cert.text
    assert "A" in cert.person
    assert services.certificate_issue(actor=lab.organiser, registration=ra).pk == cert.pk
    with pytest.raises(Conflict):
        services.certificate_issue(actor=b, registration=rb)
    pdf = documents.certificate_pdf(cert, verify_url=f"http://t/verify/{cert.code}")
    assert pdf.startswith(b"%PDF")
    issued, refused = services.certificate_issue_all(actor=lab.organiser, event=event)
    assert [c.pk for c in issued] == [cert.pk]
    assert refused == 1
    rw = Registration.objects.create(event=event, user=w, status=S.WAITLISTED)
    with pytest.raises(PermissionDenied):
        services.check_in_staff(actor=lab.organiser, session=session, ticket=rw.ticket)


@pytest.mark.django_db
def test_course_needs_the_configured_share_of_sessions(lab: Lab) -> None:
    """A course with 4 sessions and 75%: 2 check-ins are refused, 3 earn a certificate."""
    course = lab.event(kind="course", capacity=5, min_attendance_pct=75)
    sessions = [
        lab.session(course, hours_from_now=i * 24, length_h=1, title=f"S{i}") for i in range(4)
    ]
    reg = services.registration_create(actor=lab.stranger, event=course)
    for s in sessions[:2]:
        services.check_in_staff(actor=lab.organiser, session=s, ticket=reg.ticket)
    with pytest.raises(Conflict) as exc:
        services.certificate_issue(actor=lab.stranger, registration=reg)
    assert "75%" in exc.value.reason
    services.check_in_staff(actor=lab.organiser, session=sessions[2], ticket=reg.ticket)
    assert services.certificate_issue(actor=lab.stranger, registration=reg).seconds == 3 * 3600


@pytest.mark.django_db
def test_ics_parses_and_holds_every_session(lab: Lab) -> None:
    """The event's calendar parses with icalendar and has one VEVENT per session; the join
    link is only in a calendar for an approved registrant."""
    event = lab.event(capacity=3)
    made = [
        lab.session(
            event, hours_from_now=i * 24, title=f"Day {i}", join_url="https://meet.example/x"
        )
        for i in range(3)
    ]
    raw = documents.calendar_ics(event.sessions.select_related("event", "room"), name="x", host="t")
    events = Calendar.from_ical(raw).walk("VEVENT")
    assert sorted(str(e["summary"]) for e in events) == sorted(
        f"{event.title}: {s.title}" for s in made
    )
    assert all("url" not in e for e in events)
    mine = documents.calendar_ics(event.sessions.all(), name="me", host="t", with_links={event.pk})
    assert all(
        str(e["url"]) == "https://meet.example/x" for e in Calendar.from_ical(mine).walk("VEVENT")
    )


@pytest.mark.django_db
def test_reminder_retried_after_a_crash_sends_one_mail_each(
    lab: Lab, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    """The mail server fails on the second recipient: the retry sends to the second and third
    only, so everyone gets exactly one reminder; the waitlisted get none."""
    event = lab.event(capacity=3)
    regs = [
        services.registration_create(actor=person(f"r{i}@x.example"), event=event) for i in range(4)
    ]
    assert regs[3].status == S.WAITLISTED
    mail.outbox.clear()
    from django.core.mail import send_mail as real

    calls = {"n": 0}

    def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionError("mail server went away")
        return real(*args, **kwargs)

    monkeypatch.setattr("ailab.events.tasks.send_mail", flaky)
    with django_capture_on_commit_callbacks(execute=True):
        services.reminder_create(
            actor=lab.organiser, event=event, segment="approved", subject="Tomorrow",
            body="Bring a laptop.", send_at=timezone.now() - dt.timedelta(seconds=1),
        )  # fmt: skip
    got = sorted(m.to[0] for m in mail.outbox)
    assert got == sorted(r.user.email for r in regs[:3])
    assert ReminderDelivery.objects.count() == 3
    with pytest.raises(PermissionDenied):
        services.reminder_create(
            actor=lab.stranger,
            event=event,
            segment="approved",
            subject="x",
            body="y",
            send_at=timezone.now(),
        )


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks need PostgreSQL (AILAB_TEST_DATABASE_URL)"
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_withdrawals_promote_exactly_as_many(lab: Lab) -> None:
    """Two seat holders withdraw at the same moment in two connections: exactly the first two
    waitlisted people are promoted, the third still waits."""
    event = lab.event(capacity=2)
    holders = [
        services.registration_create(actor=person(f"h{i}@x.example"), event=event) for i in range(2)
    ]
    waiting = [
        services.registration_create(actor=person(f"w{i}@x.example"), event=event) for i in range(3)
    ]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def withdraw(reg: Registration) -> None:
        try:
            barrier.wait()
            services.registration_withdraw(actor=reg.user, registration=reg)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=withdraw, args=(h,)) for h in holders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    statuses = [Registration.objects.get(pk=w.pk).status for w in waiting]
    assert statuses == [S.APPROVED, S.APPROVED, S.WAITLISTED]
