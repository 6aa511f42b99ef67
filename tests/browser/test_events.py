"""Browser journeys for events: waitlisted, promoted, checked in, certificate; moderation."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from ailab.accounts.models import Membership, Organisation, OrganisationKind, Role, User
from ailab.accounts.services import user_create
from ailab.events import services
from ailab.events.models import Registration
from tests.browser.conftest import fits, sign_in

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "pw-browser-events-1!"


def _setup(moderated: bool = False) -> tuple[User, User, Any]:
    org = Organisation.objects.create(name="PolyU", slug="polyu", kind=OrganisationKind.UNIVERSITY)
    organiser = user_create(email="org@polyu.example", password=PASSWORD, full_name="Olive Org")
    Membership.objects.create(user=organiser, organisation=org, role=Role.FOUNDER)
    person = user_create(email="pat@example.com", password=PASSWORD, full_name="Pat Person")
    event = services.event_create(
        actor=organiser, title="LLM workshop", kind="workshop", organisers=[org],
        capacity=1, moderated=moderated,
    )  # fmt: skip
    start = timezone.now() - dt.timedelta(minutes=5)
    services.session_add(
        actor=organiser, event=event, title="Hands-on", starts_at=start,
        ends_at=start + dt.timedelta(hours=2),
    )  # fmt: skip
    return organiser, person, event


def test_waitlisted_promoted_check_in_certificate(page: Any, live_server: Any) -> None:
    """Pat registers for a full event and is waitlisted; the seat holder withdraws and Pat is
    approved; Pat checks in with the ticket's code and downloads a PDF certificate."""
    _, pat, event = _setup()
    holder = user_create(email="holder@example.com", password=PASSWORD)
    held = services.registration_create(actor=holder, event=event)
    base = live_server.url
    sign_in(page, base, pat.email, PASSWORD)
    page.goto(f"{base}/events/{event.pk}/")
    fits(page)
    page.click("button:has-text('Register')")
    page.wait_for_load_state()
    assert page.locator("#my-status").count() == 1, page.url + page.inner_text("main")[:500]
    assert "On the waiting list" in page.inner_text("#my-status")
    services.registration_withdraw(actor=holder, registration=held)
    page.reload()
    assert "Approved" in page.inner_text("#my-status")
    page.click("text=Your ticket")
    page.wait_for_load_state()
    fits(page)
    code = page.inner_text("#ticket-code").strip()
    page.fill("input[name=ticket]", code)
    page.click("button:has-text('Check in')")
    page.wait_for_load_state()
    assert "Checked in" in page.content()
    with page.expect_download() as info:
        page.click("text=Download certificate")
    path = info.value.path()
    with open(path, "rb") as fh:
        assert fh.read(4) == b"%PDF"
    assert Registration.objects.get(user=pat).certificate.person == "Pat Person"


def test_organiser_moderates(page: Any, live_server: Any) -> None:
    """In a moderated event the organiser rejects a pending registration with a reason on the
    organiser page; the registration shows as rejected with the reason."""
    organiser, pat, event = _setup(moderated=True)
    services.registration_create(actor=pat, event=event)
    base = live_server.url
    sign_in(page, base, organiser.email, PASSWORD)
    page.goto(f"{base}/events/{event.pk}/manage")
    fits(page)
    page.fill("input[name=reason]", "Members only this time")
    page.click("button:has-text('Reject')")
    page.wait_for_load_state()
    assert "Members only this time" in page.inner_text(".registration")
    assert Registration.objects.get(user=pat).status == "rejected"
