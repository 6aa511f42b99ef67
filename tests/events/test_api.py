"""The events API with a Bearer token, and the public pages: event, .ics, /verify/<code>."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from icalendar import Calendar

from ailab.accounts.models import User
from ailab.accounts.services import token_create
from ailab.events import services
from tests.events.conftest import Lab, person

pytestmark = pytest.mark.django_db


def client_for(user: User) -> Client:
    raw = token_create(actor=user, user=user, name="t").raw
    return Client(headers={"Authorization": f"Bearer {raw}"})


def test_register_waitlist_withdraw_promote_over_the_api(lab: Lab) -> None:
    """Capacity 1: the second registrant is waitlisted (201), the first withdraws, the second
    is approved; a bad answer is 422 naming the field; a stranger cannot list or decide."""
    event = lab.event(capacity=1)
    services.form_field_add(
        actor=lab.organiser, event=event, key="org", label="Org", kind="text", required=True
    )
    a, b = person("a@api.example"), person("b@api.example")
    url = f"/api/v1/events/{event.pk}/registrations"
    bad = client_for(a).post(url, {"answers": {}}, content_type="application/json")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "answers.org"
    ra = client_for(a).post(url, {"answers": {"org": "X"}}, content_type="application/json")
    rb = client_for(b).post(url, {"answers": {"org": "Y"}}, content_type="application/json")
    assert (ra.status_code, ra.json()["status"]) == (201, "approved")
    assert rb.json()["status"] == "waitlisted"
    assert client_for(lab.stranger).get(url).status_code == 403
    listed = client_for(lab.organiser).get(url).json()
    assert [r["status"] for r in listed] == ["approved", "waitlisted"]
    assert all(r["ticket"] is None for r in listed)  # tickets are their holders' only
    out = client_for(a).post(f"/api/v1/registrations/{ra.json()['id']}/withdraw")
    assert out.json()["status"] == "withdrawn"
    mine = client_for(b).get("/api/v1/registrations").json()
    assert mine[0]["status"] == "approved"
    assert Client().post(url, {}, content_type="application/json").status_code == 401


def test_join_link_hidden_from_unapproved_in_api(lab: Lab) -> None:
    """GET /events/{id} shows the join link to an approved registrant only."""
    event = lab.event(capacity=1)
    lab.session(event, join_url="https://meet.example/z")
    a, b = person("a@j.example"), person("b@j.example")
    services.registration_create(actor=a, event=event)
    services.registration_create(actor=b, event=event)

    def link(c: Client) -> Any:
        return c.get(f"/api/v1/events/{event.pk}").json()["sessions"][0]["join_url"]

    assert link(client_for(a)) == "https://meet.example/z"
    assert link(client_for(b)) is None
    assert link(Client()) is None


def test_staff_check_in_and_verify(lab: Lab) -> None:
    """Staff check-in over the API is idempotent; the certificate's code verifies publicly
    (200 page and API), an unknown code is 404."""
    event = lab.event(capacity=3)
    session = lab.session(event, hours_from_now=0)
    reg = services.registration_create(actor=lab.stranger, event=event)
    url = f"/api/v1/sessions/{session.pk}/check-ins"
    body: dict[str, Any] = {"ticket": reg.ticket}
    first = client_for(lab.organiser).post(url, body, content_type="application/json").json()
    second = client_for(lab.organiser).post(url, body, content_type="application/json").json()
    assert (first["new"], second["new"]) == (True, False)
    assert (
        client_for(lab.stranger).post(url, body, content_type="application/json").status_code == 403
    )
    cert = services.certificate_issue(actor=lab.stranger, registration=reg)
    page = Client().get(f"/verify/{cert.code}")
    assert page.status_code == 200
    assert cert.person in page.content.decode()
    assert Client().get("/verify/NOTACODE1234").status_code == 404
    assert Client().get(f"/api/v1/certificates/{cert.code}").json()["event"] == event.title
    assert Client().get("/api/v1/certificates/NOPE").status_code == 404


def test_pages_ics_ticket_certificate(lab: Lab) -> None:
    """The event page, its .ics (every session), the ticket with its QR code, and the PDF."""
    event = lab.event(capacity=3)
    for i in range(2):
        lab.session(event, hours_from_now=i * 24, title=f"Day {i}")
    anon = Client()
    assert anon.get(f"/events/{event.pk}/").status_code == 200
    ics = anon.get(f"/events/{event.pk}/calendar.ics")
    assert len(Calendar.from_ical(ics.content).walk("VEVENT")) == 2
    c = Client()
    c.force_login(lab.stranger)
    assert c.post(f"/events/{event.pk}/register").status_code == 302
    reg = event.registrations.get()
    page = c.get(f"/events/tickets/{reg.ticket}/").content.decode()
    assert "<svg" in page
    assert reg.ticket in page
    session = event.sessions.get(title="Day 0")
    c.post(f"/events/sessions/{session.pk}/check-in", {"ticket": reg.ticket})
    pdf = c.get(f"/events/registrations/{reg.pk}/certificate.pdf")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    other = Client()
    other.force_login(lab.org_member)
    assert other.get(f"/events/tickets/{reg.ticket}/").status_code == 404
