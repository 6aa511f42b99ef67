"""The web pages: public calls, the application form and status page, the reviewer
dashboard, the staff pipeline board (HTMX), cohort pages, the home page panel."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from ailab.programmes import services
from ailab.programmes.models import Application, ApplicationStatus
from tests.fund import factories
from tests.programmes.conftest import answers_for, scores_for

pytestmark = pytest.mark.django_db


def _client(user=None) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    if user is not None:
        c.force_login(user)
    return c


@pytest.fixture
def intake(staff, make_intake):  # type: ignore[no-untyped-def]
    return make_intake(fund=factories.fund(staff, "1000000"), title="Spring 2026 accelerator")


def test_calls_are_public_and_on_the_home_page(intake) -> None:  # type: ignore[no-untyped-def]
    """Anonymous visitors see the call list, the call (times in Hong Kong time) and the
    open call on the home page."""
    c = _client()
    assert intake.title in c.get("/calls/").content.decode()
    page = c.get(f"/calls/{intake.pk}/").content.decode()
    assert "US$100,000.00 for 6% equity" in page
    assert "HKT" in page
    assert intake.title in c.get("/").content.decode()


def test_apply_upload_submit_and_status(intake) -> None:  # type: ignore[no-untyped-def]
    """A founder saves a draft, uploads a PDF, submits, and sees the status; another
    founder gets 404 for the page and the download."""
    org = factories.organisation("Pages AI")
    founder = factories.founder(org)
    c = _client(founder)
    assert c.get(f"/calls/{intake.pk}/apply/").status_code == 200
    data = {"organisation_id": org.pk, "team": "Ada, ada@x.example, CEO"}
    data |= {f"answer_{k}": v for k, v in answers_for(intake).items()}
    r = c.post(f"/calls/{intake.pk}/apply/", data)
    assert r.status_code == 302
    app = Application.objects.get(organisation=org)
    pdf = SimpleUploadedFile("deck.pdf", b"%PDF-1.7\n%%EOF", content_type="application/pdf")
    data |= {"action": "submit", "file": pdf}
    r = c.post(f"/applications/{app.pk}/", data)
    assert r.status_code == 302
    app.refresh_from_db()
    assert app.status == ApplicationStatus.SUBMITTED
    assert app.team.get().name == "Ada"
    page = c.get(f"/applications/{app.pk}/").content.decode()
    assert "Submitted" in page
    att = app.attachments.get()
    dl = c.get(f"/attachments/{att.pk}/download/")
    assert dl["Content-Disposition"].startswith("attachment;")
    other = _client(factories.founder(factories.organisation("Nosy AI")))
    assert other.get(f"/applications/{app.pk}/").status_code == 404
    assert other.get(f"/attachments/{att.pk}/download/").status_code == 404


def test_bad_pdf_on_page_shows_message(intake) -> None:  # type: ignore[no-untyped-def]
    """A non-PDF upload is refused with a message naming the field; nothing is stored."""
    org = factories.organisation("Bad Deck AI")
    founder = factories.founder(org)
    app = services.application_create(actor=founder, intake=intake, organisation=org)
    c = _client(founder)
    bad = SimpleUploadedFile("deck.pdf", b"GIF89a", content_type="application/pdf")
    url = f"/applications/{app.pk}/"
    r = c.post(
        url, {"action": "save", "file": bad}, HTTP_REFERER=f"http://testserver{url}", follow=True
    )
    assert "file: not a PDF" in r.content.decode()
    assert app.attachments.count() == 0


def test_reviewer_dashboard_and_review(intake, staff, reviewer) -> None:  # type: ignore[no-untyped-def]
    """The reviewer sees the assignment, reviews it, then sees the reviews."""
    org = factories.organisation("Reviewed AI")
    founder = factories.founder(org)
    app = services.application_create(
        actor=founder, intake=intake, organisation=org, answers=answers_for(intake)
    )
    services.application_submit(actor=founder, application=app)
    a = services.review_assign(actor=staff, application=app, reviewer=reviewer)
    c = _client(reviewer)
    assert "Reviewed AI" in c.get("/reviews/").content.decode()
    data = {f"score_{cr.pk}": "4" for cr in intake.criteria.all()} | {
        "confidence": "4",
        "comments": "strong",
    }
    assert c.post(f"/reviews/{a.pk}/", data).status_code == 302
    assert "strong" in c.get(f"/reviews/{a.pk}/").content.decode()
    assert _client(founder).get(f"/reviews/{a.pk}/").status_code == 404


def test_pipeline_board_is_staff_only_and_htmx(intake, staff, reviewer) -> None:  # type: ignore[no-untyped-def]
    """Staff get the board; an HTMX action returns just the fragment; others get 403."""
    org = factories.organisation("Board AI")
    founder = factories.founder(org)
    app = services.application_create(
        actor=founder, intake=intake, organisation=org, answers=answers_for(intake)
    )
    services.application_submit(actor=founder, application=app)
    c = _client(staff)
    board = c.get(f"/intakes/{intake.pk}/pipeline/").content.decode()
    assert "Auto-assign" in board
    assert "pays for 10 more award(s)" in board  # US$1,000,000 / US$100,000
    r = c.post(
        f"/intakes/{intake.pk}/pipeline/action/",
        {"action": "auto_assign", "per_application": "1", "max_per_reviewer": "5"},
        HTTP_HX_REQUEST="true",
    )
    assert r.status_code == 200
    body = r.content.decode()
    assert "<html" not in body
    assert 'id="board-inner"' in body
    [a] = app.assignments.all()
    services.review_submit(actor=reviewer, assignment=a, scores=scores_for(intake, 5), confidence=5)
    r = c.post(
        f"/intakes/{intake.pk}/pipeline/action/",
        {"action": "accepted", "application_id": app.pk},
        HTTP_HX_REQUEST="true",
    )
    assert r.status_code == 200
    app.refresh_from_db()
    assert app.status == ApplicationStatus.ACCEPTED
    assert _client(founder).get(f"/intakes/{intake.pk}/pipeline/").status_code == 403
    assert (
        _client(reviewer)
        .post(f"/intakes/{intake.pk}/pipeline/action/", {"action": "reject_rest"})
        .status_code
        == 403
    )


def test_cohort_pages_and_check_in(intake, staff, investor) -> None:  # type: ignore[no-untyped-def]
    """The team sees its cohort and reports a check-in; overdue check-ins are flagged; an
    investor sees the cohort only with a demo day, without check-ins."""
    org = factories.organisation("Cohort AI")
    founder = factories.founder(org)
    app = services.application_create(
        actor=founder, intake=intake, organisation=org, answers=answers_for(intake)
    )
    services.application_submit(actor=founder, application=app)
    Application.objects.filter(pk=app.pk).update(status=ApplicationStatus.UNDER_REVIEW)
    services.selection_decide(actor=staff, intake=intake, accept=[app.pk])
    p = services.award_grant(actor=staff, application=app, on=dt.date(2024, 1, 1))
    c = _client(founder)
    assert "Spring 2026 accelerator cohort" in c.get("/cohorts/").content.decode()
    page = c.get(f"/cohorts/{p.cohort_id}/").content.decode()
    assert "overdue" in page
    check_in = p.check_ins.get(month=1)
    r = c.post(f"/check-ins/{check_in.pk}/report/", {"summary": "shipped v1"})
    assert r.status_code == 302
    check_in.refresh_from_db()
    assert check_in.summary == "shipped v1"
    ic = _client(investor)
    assert ic.get(f"/cohorts/{p.cohort_id}/").status_code == 404
    services.demo_day_schedule(
        actor=staff,
        cohort=p.cohort,
        held_at=dt.datetime(2024, 6, 20, 2, tzinfo=dt.UTC),
        investors=[investor],
    )
    page = ic.get(f"/cohorts/{p.cohort_id}/").content.decode()
    assert "Demo day" in page
    assert "shipped v1" not in page


def test_board_manual_assign_and_graduate_button(intake, staff, reviewer, incubation) -> None:  # type: ignore[no-untyped-def]
    """Staff assign a reviewer from the board, and graduate a team from the cohort page;
    a founder may not graduate their own team (403)."""
    org = factories.organisation("Manual AI")
    founder = factories.founder(org)
    app = services.application_create(
        actor=founder, intake=intake, organisation=org, answers=answers_for(intake)
    )
    services.application_submit(actor=founder, application=app)
    c = _client(staff)
    r = c.post(
        f"/intakes/{intake.pk}/pipeline/action/",
        {"action": "assign", "application_id": app.pk, "reviewer_id": reviewer.pk},
        HTTP_HX_REQUEST="true",
    )
    assert r.status_code == 200
    assert app.assignments.get().reviewer == reviewer
    app.refresh_from_db()
    services.selection_decide(actor=staff, intake=intake, accept=[app.pk])
    p = services.award_grant(actor=staff, application=app)
    assert _client(founder).post(f"/participations/{p.pk}/graduate/").status_code == 403
    assert c.post(f"/participations/{p.pk}/graduate/").status_code == 302
    p.refresh_from_db()
    assert p.status == "graduated"


def test_staff_open_a_call_in_lab_time(staff, accelerator) -> None:  # type: ignore[no-untyped-def]
    """Staff create an intake from the page; times typed in Hong Kong time are stored in
    UTC; a bad equity is refused naming the field; non-staff get 403."""
    fund = factories.fund(staff, "1000000")
    data = {
        "programme_id": accelerator.pk,
        "title": "Autumn call",
        "call_text": "Apply now",
        "opens_at": "2030-03-01T09:00",
        "closes_at": "2030-04-01T23:59",
        "capacity_min": "6",
        "capacity_max": "10",
        "fund_id": fund.pk,
        "funding_amount": "100000",
        "funding_currency": "USD",
        "equity_pct": "6",
        "gpu_hours": "4000",
        "duration_months": "6",
        "kinds": ["startup"],
        "rubric": "Team, 2\nMarket",
        "questions": "What?\n(optional) Else?",
    }
    c = _client(staff)
    assert c.get("/calls/new/").status_code == 200
    r = c.post("/calls/new/", data)
    assert r.status_code == 302
    from ailab.programmes.models import Intake

    intake = Intake.objects.get(title="Autumn call")
    assert intake.opens_at == dt.datetime(2030, 3, 1, 1, 0, tzinfo=dt.UTC)
    assert [q.required for q in intake.questions.all()] == [True, False]
    assert [c.name for c in intake.criteria.all()] == ["Team", "Market"]
    bad = data | {"title": "Bad call", "equity_pct": "100"}
    r = c.post("/calls/new/", bad, HTTP_REFERER="http://testserver/calls/new/", follow=True)
    assert "equity_pct: must be between 0 and 100" in r.content.decode()
    assert not Intake.objects.filter(title="Bad call").exists()
    founder = factories.founder(factories.organisation())
    assert _client(founder).get("/calls/new/").status_code == 403
