"""Registration, capacity, moderation, reserved seats, the waiting list, follow-up forms."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from ailab.accounts.models import User
from ailab.common.errors import Conflict, InvalidTransition, PermissionDenied, ValidationError
from ailab.events import selectors, services
from ailab.events.models import FieldKind, FormKind, Registration, RegistrationStatus
from tests.events.conftest import Lab, member, person

pytestmark = pytest.mark.django_db(transaction=False)
S = RegistrationStatus


def people(n: int, prefix: str = "p") -> list[User]:
    return [person(f"{prefix}{i}@example.com") for i in range(n)]


def test_capacity_30_waitlists_the_31st(lab: Lab, django_capture_on_commit_callbacks: Any) -> None:
    """30 seats: 30 registrants are approved, the 31st is on the waiting list."""
    event = lab.event(capacity=30)
    regs = [services.registration_create(actor=p, event=event) for p in people(31)]
    assert [r.status for r in regs[:30]] == [S.APPROVED] * 30
    assert regs[30].status == S.WAITLISTED
    assert selectors.event_seats(event).remaining == 0
    assert selectors.event_seats(event).waiting == 1


def test_withdrawal_promotes_earliest_waitlisted_and_mails_once(
    lab: Lab, django_capture_on_commit_callbacks: Any
) -> None:
    """A withdrawal gives the seat to the first on the waiting list (by join time), who gets
    one mail; calling the promotion again changes nothing."""
    event = lab.event(capacity=1)
    holder, first, second = people(3)
    r0 = services.registration_create(actor=holder, event=event)
    with django_capture_on_commit_callbacks(execute=True):
        r1 = services.registration_create(actor=first, event=event)
        r2 = services.registration_create(actor=second, event=event)
    assert (r1.status, r2.status) == (S.WAITLISTED, S.WAITLISTED)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        promoted = services.registration_withdraw(actor=holder, registration=r0)
    assert [p.pk for p in promoted] == [r1.pk]
    r1.refresh_from_db()
    r2.refresh_from_db()
    assert (r1.status, r2.status) == (S.APPROVED, S.WAITLISTED)
    to_first = [m for m in mail.outbox if first.email in m.to]
    assert len(to_first) == 1
    assert "A seat is yours" in to_first[0].subject
    assert not [m for m in mail.outbox if second.email in m.to]
    with django_capture_on_commit_callbacks(execute=True):
        assert services.waiting_list_promote(event=event) == []
    assert len([m for m in mail.outbox if first.email in m.to]) == 1


def test_moderation_pending_then_approved_or_rejected_with_reason(
    lab: Lab, django_capture_on_commit_callbacks: Any
) -> None:
    """Moderated: registrations are pending; an organiser approves or rejects with a reason;
    the rejected registrant is mailed the reason, and the seat goes to the waiting list."""
    event = lab.event(capacity=2, moderated=True)
    a, b, c = people(3)
    ra, rb = (services.registration_create(actor=p, event=event) for p in (a, b))
    rc = services.registration_create(actor=c, event=event)
    assert (ra.status, rb.status, rc.status) == (S.PENDING, S.PENDING, S.WAITLISTED)
    services.registration_decide(actor=lab.organiser, registration=ra, approve=True)
    with pytest.raises(ValidationError) as exc:
        services.registration_decide(actor=lab.organiser, registration=rb, approve=False)
    assert exc.value.field == "reason"
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.registration_decide(
            actor=lab.organiser, registration=rb, approve=False, reason="Members only"
        )
    rb.refresh_from_db()
    rc.refresh_from_db()
    assert rb.status == S.REJECTED
    assert rb.reason == "Members only"
    assert rc.status == S.PENDING  # promoted into moderation
    rejected = [m for m in mail.outbox if b.email in m.to]
    assert len(rejected) == 1
    assert "Members only" in rejected[0].body
    with pytest.raises(PermissionDenied):
        services.registration_decide(actor=lab.stranger, registration=rc, approve=True)
    with pytest.raises(InvalidTransition):
        services.registration_decide(actor=lab.organiser, registration=ra, approve=True)


def test_no_mail_when_the_transaction_rolls_back(
    lab: Lab, django_capture_on_commit_callbacks: Any
) -> None:
    """Mail is sent after commit: a registration refused half-way mails nobody."""
    event = lab.event(capacity=5)
    services.form_field_add(
        actor=lab.organiser, event=event, key="org", label="Org", kind="text", required=True
    )
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(ValidationError),
    ):
        services.registration_create(actor=lab.stranger, event=event, answers={})
    assert callbacks == []
    assert mail.outbox == []
    assert not Registration.objects.filter(event=event).exists()


def test_reserved_seats_for_member_organisations_before_release(lab: Lab) -> None:
    """2 of 3 seats are reserved for HKEIA members until the release date: an outsider gets
    the one general seat, the next outsider waits, a member still gets a reserved seat; after
    the release, promotion gives the last seat to the waiting outsider."""
    release = timezone.now() + dt.timedelta(days=1)
    event = lab.event(
        capacity=3, reserved_seats=2, reserved_for=[lab.association], reserved_until=release
    )
    out1, out2, m1 = people(3)
    member(m1, lab.association, "member")
    r1 = services.registration_create(actor=out1, event=event)
    r2 = services.registration_create(actor=out2, event=event)
    r3 = services.registration_create(actor=m1, event=event)
    assert (r1.status, r2.status, r3.status) == (S.APPROVED, S.WAITLISTED, S.APPROVED)
    assert r3.reserved
    assert not r1.reserved
    assert selectors.event_seats(event).reserved_free == 1
    event.reserved_until = timezone.now() - dt.timedelta(seconds=1)
    event.save()
    promoted = services.waiting_list_promote(event=event)
    assert [p.pk for p in promoted] == [r2.pk]


def test_forms_as_data_text_choice_file_consent(lab: Lab) -> None:
    """Answers are checked against the event's fields; each bad answer names its field."""
    event = lab.event(capacity=10)
    add = services.form_field_add
    add(
        actor=lab.organiser,
        event=event,
        key="company",
        label="Company",
        kind=FieldKind.TEXT,
        required=True,
    )
    add(
        actor=lab.organiser,
        event=event,
        key="level",
        label="Level",
        kind=FieldKind.CHOICE,
        choices=["new", "expert"],
        required=True,
    )
    add(actor=lab.organiser, event=event, key="cv", label="CV", kind=FieldKind.FILE)
    add(
        actor=lab.organiser,
        event=event,
        key="photos",
        label="Photos OK",
        kind=FieldKind.CONSENT,
        required=True,
    )
    good = {"company": "Acme", "level": "new", "photos": "on"}
    for change, field in [
        ({"company": ""}, "answers.company"),
        ({"level": "guru"}, "answers.level"),
        ({"photos": ""}, "answers.photos"),
        ({"surprise": "x"}, "answers.surprise"),
        ({"company": "a\x1bb"}, "answers.company"),
    ]:
        with pytest.raises(ValidationError) as exc:
            services.registration_create(
                actor=lab.stranger, event=event, answers={**good, **change}
            )
        assert exc.value.field == field
    assert not Registration.objects.exists()
    cv = SimpleUploadedFile("cv.pdf", b"%PDF-1.4 cv", content_type="application/pdf")
    reg = services.registration_create(
        actor=lab.stranger, event=event, answers=good, files={"cv": cv}
    )
    assert reg.answers == {"company": "Acme", "level": "new", "photos": True, "cv": "cv.pdf"}
    assert reg.files.get().file.read() == b"%PDF-1.4 cv"
    with pytest.raises(ValidationError) as exc:
        add(
            actor=lab.organiser,
            event=event,
            key="x",
            label="X",
            kind=FieldKind.CHOICE,
            choices=["one"],
        )
    assert exc.value.field == "choices"
    with pytest.raises(PermissionDenied):
        add(actor=lab.stranger, event=event, key="y", label="Y", kind=FieldKind.TEXT)


def test_follow_up_open_only_to_approved(lab: Lab) -> None:
    """A waitlisted or pending registrant cannot answer the follow-up form; approved can."""
    event = lab.event(capacity=1)
    services.form_field_add(
        actor=lab.organiser,
        event=event,
        key="slides",
        label="Slides?",
        kind="consent",
        form=FormKind.FOLLOW_UP,
    )
    a, b = people(2)
    ra = services.registration_create(actor=a, event=event)
    rb = services.registration_create(actor=b, event=event)
    with pytest.raises(PermissionDenied):
        services.follow_up_submit(actor=b, registration=rb, answers={"slides": True})
    response = services.follow_up_submit(actor=a, registration=ra, answers={"slides": True})
    assert response.answers == {"slides": True}


def test_double_registration_and_withdraw_twice_refused(lab: Lab) -> None:
    """One active registration per person; a withdrawn one cannot be withdrawn again, and
    the person may register anew."""
    event = lab.event(capacity=3)
    reg = services.registration_create(actor=lab.stranger, event=event)
    with pytest.raises(Conflict):
        services.registration_create(actor=lab.stranger, event=event)
    services.registration_withdraw(actor=lab.stranger, registration=reg)
    with pytest.raises(InvalidTransition):
        services.registration_withdraw(actor=lab.stranger, registration=reg)
    again = services.registration_create(actor=lab.stranger, event=event)
    assert again.status == S.APPROVED
    with pytest.raises(PermissionDenied):
        services.registration_withdraw(actor=lab.org_member, registration=again)


def test_join_link_only_for_approved(lab: Lab) -> None:
    """An unapproved registrant sees no join link; an approved one and organisers do."""
    event = lab.event(capacity=1)
    lab.session(event, join_url="https://meet.example/abc")
    a, b = people(2)
    services.registration_create(actor=a, event=event)
    services.registration_create(actor=b, event=event)
    assert selectors.sees_join_link(a, event)
    assert not selectors.sees_join_link(b, event)
    assert not selectors.sees_join_link(lab.stranger, event)
    assert selectors.sees_join_link(lab.organiser, event)
