"""The programmes API: per-role visibility and bad input as 4xx naming the field."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from ailab.programmes import services
from ailab.programmes.models import Application, ApplicationStatus, Intake
from tests.fund import factories
from tests.programmes.conftest import answers_for, scores_for

pytestmark = pytest.mark.django_db
API = "/api/v1"


def _client(user=None) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    if user is not None:
        c.force_login(user)
    return c


def _post(c: Client, url: str, body: dict) -> object:  # type: ignore[type-arg]
    return c.post(API + url, data=json.dumps(body, default=str), content_type="application/json")


@pytest.fixture
def setup(staff, make_intake, reviewer, investor):  # type: ignore[no-untyped-def]
    fund = factories.fund(staff, "1000000")
    intake = make_intake(fund=fund)
    org = factories.organisation("API AI")
    founder = factories.founder(org)
    other = factories.founder(factories.organisation("Other AI"))
    return {
        "intake": intake,
        "org": org,
        "founder": founder,
        "other": other,
        "staff": staff,
        "reviewer": reviewer,
        "investor": investor,
        "fund": fund,
    }


def _apply(s) -> dict:  # type: ignore[no-untyped-def,type-arg]
    c = _client(s["founder"])
    r = _post(
        c,
        "/applications",
        {
            "intake_id": s["intake"].pk,
            "organisation_id": s["org"].pk,
            "answers": answers_for(s["intake"]),
        },
    )
    assert r.status_code == 201, r.content
    return r.json()


def test_calls_are_public(setup) -> None:  # type: ignore[no-untyped-def]
    """Anyone lists the open calls and reads one, with rubric and questions."""
    r = _client().get(f"{API}/intakes?open=true")
    assert r.status_code == 200
    [call] = r.json()
    assert call["funding_amount"] == "100000.00"
    assert len(call["criteria"]) == 3
    assert _client().get(f"{API}/intakes/{call['id']}").status_code == 200


def test_apply_submit_and_see_status(setup) -> None:  # type: ignore[no-untyped-def]
    """A founder applies, uploads a PDF, submits, and sees the status; another applicant and
    an investor get 404, and the application is not in their lists."""
    app = _apply(setup)
    c = _client(setup["founder"])
    pdf = SimpleUploadedFile("deck.pdf", b"%PDF-1.7\n%%EOF", content_type="application/pdf")
    r = c.post(f"{API}/applications/{app['id']}/attachments", {"file": pdf})
    assert r.status_code == 201, r.content
    att = r.json()["id"]
    assert _post(c, f"/applications/{app['id']}/submit", {}).status_code == 200
    assert c.get(f"{API}/applications/{app['id']}").json()["status"] == "submitted"
    download = c.get(f"{API}/attachments/{att}/download")
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["Content-Type"] == "application/pdf"
    for outsider in (setup["other"], setup["investor"], setup["reviewer"]):
        oc = _client(outsider)
        assert oc.get(f"{API}/applications/{app['id']}").status_code == 404
        assert oc.get(f"{API}/attachments/{att}/download").status_code == 404
        assert oc.get(f"{API}/applications").json() == []
    assert _client().get(f"{API}/applications/{app['id']}").status_code == 401


def test_submission_after_deadline_is_422_naming_closes_at(setup) -> None:  # type: ignore[no-untyped-def]
    """Submitting after the deadline: 422, field closes_at, still a draft."""
    app = _apply(setup)
    Intake.objects.filter(pk=setup["intake"].pk).update(closes_at=timezone.now())
    r = _post(_client(setup["founder"]), f"/applications/{app['id']}/submit", {})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "closes_at"
    assert Application.objects.get(pk=app["id"]).status == ApplicationStatus.DRAFT


@pytest.mark.parametrize(
    ("name", "body", "limit"),
    [("deck.pdf", b"<html>not pdf</html>", None), ("deck.pdf", b"%PDF-" + b"x" * 5000, 1000)],
)
def test_bad_attachment_is_422_naming_file(setup, settings, name, body, limit) -> None:  # type: ignore[no-untyped-def]
    """Not a PDF, or too large: 422 naming file; nothing attached."""
    if limit:
        settings.AILAB_ATTACHMENT_MAX_BYTES = limit
    app = _apply(setup)
    upload = SimpleUploadedFile(name, body, content_type="application/pdf")
    r = _client(setup["founder"]).post(
        f"{API}/applications/{app['id']}/attachments", {"file": upload}
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "file"
    assert Application.objects.get(pk=app["id"]).attachments.count() == 0


def test_review_flow_and_bad_score(setup) -> None:  # type: ignore[no-untyped-def]
    """A reviewer sees their assignment; a score of 6 is 422 naming scores.Team; a good
    review is 201; the applicant cannot read reviews (403)."""
    app = _apply(setup)
    fc = _client(setup["founder"])
    _post(fc, f"/applications/{app['id']}/submit", {})
    sc = _client(setup["staff"])
    r = _post(sc, f"/applications/{app['id']}/assignments", {"reviewer_id": setup["reviewer"].pk})
    assert r.status_code == 201, r.content
    rc = _client(setup["reviewer"])
    [assignment] = rc.get(f"{API}/assignments").json()
    bad = scores_for(setup["intake"], 3) | {"Team": 6}
    r = _post(rc, f"/assignments/{assignment['id']}/review", {"scores": bad, "confidence": 3})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "scores.Team"
    good = scores_for(setup["intake"], 4)
    r = _post(rc, f"/assignments/{assignment['id']}/review", {"scores": good, "confidence": 3})
    assert r.status_code == 201
    assert rc.get(f"{API}/applications/{app['id']}/reviews").status_code == 200
    assert fc.get(f"{API}/applications/{app['id']}/reviews").status_code == 403
    ranking = sc.get(f"{API}/intakes/{setup['intake'].pk}/ranking")
    assert ranking.status_code == 200
    assert ranking.json()[0]["reviews_submitted"] == 1
    assert rc.get(f"{API}/intakes/{setup['intake'].pk}/ranking").status_code == 403


def test_selection_beyond_capacity_and_cash_via_api(setup, staff) -> None:  # type: ignore[no-untyped-def]
    """Selection beyond capacity is 422 and beyond cash 409, both naming accept."""
    small = factories.fund(staff, "150000")
    intake = setup["intake"]
    Intake.objects.filter(pk=intake.pk).update(fund=small, capacity_min=1, capacity_max=2)
    ids = []
    for i in range(3):
        org = factories.organisation(f"Sel {i}")
        f = factories.founder(org)
        a = services.application_create(
            actor=f, intake=intake, organisation=org, answers=answers_for(intake)
        )
        services.application_submit(actor=f, application=a)
        ids.append(a.pk)
    Application.objects.filter(pk__in=ids).update(status=ApplicationStatus.UNDER_REVIEW)
    sc = _client(staff)
    r = _post(sc, f"/intakes/{intake.pk}/selection", {"accept": ids})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "accept"
    r = _post(sc, f"/intakes/{intake.pk}/selection", {"accept": ids[:2]})
    assert r.status_code == 409
    assert r.json()["errors"][0]["field"] == "accept"
    assert "available" in r.json()["message"]
    assert (
        _post(
            _client(setup["founder"]), f"/intakes/{intake.pk}/selection", {"accept": ids[:1]}
        ).status_code
        == 403
    )


def test_intake_equity_out_of_range_via_api(setup, staff) -> None:  # type: ignore[no-untyped-def]
    """Creating an intake with equity 100 is 422 naming equity_pct."""
    now = timezone.now()
    body = {
        "programme_id": setup["intake"].programme_id,
        "title": "Bad",
        "call_text": "x",
        "opens_at": now,
        "closes_at": now + dt.timedelta(days=3),
        "fund_id": setup["fund"].pk,
        "funding_amount": "100000",
        "equity_pct": "100",
        "criteria": [{"name": "Team"}],
    }
    r = _post(_client(staff), "/intakes", body)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "equity_pct"
    body["equity_pct"] = "6"
    assert _post(_client(staff), "/intakes", body).status_code == 201


def test_award_and_cohort_visibility(setup, staff) -> None:  # type: ignore[no-untyped-def]
    """After an award the team sees its cohort; an investor sees it once a demo day is set,
    never the applications."""
    app = _apply(setup)
    Application.objects.filter(pk=app["id"]).update(status=ApplicationStatus.UNDER_REVIEW)
    sc = _client(staff)
    assert (
        _post(sc, f"/intakes/{setup['intake'].pk}/selection", {"accept": [app["id"]]}).status_code
        == 200
    )
    r = _post(sc, f"/intakes/{setup['intake'].pk}/awards", {"on": "2025-03-01"})
    assert r.status_code == 201, r.content
    [granted] = r.json()
    assert granted["application_id"] == app["id"]
    cohort_id = granted["cohort_id"]
    again = _post(sc, f"/applications/{app['id']}/award", {"on": "2025-03-01"})
    assert again.status_code == 409
    assert _client(setup["founder"]).get(f"{API}/cohorts/{cohort_id}").status_code == 200
    ic = _client(setup["investor"])
    assert ic.get(f"{API}/cohorts/{cohort_id}").status_code == 404
    r = sc.put(
        f"{API}/cohorts/{cohort_id}/demo-day",
        data=json.dumps(
            {"held_at": "2025-08-20T10:00:00+08:00", "investor_ids": [setup["investor"].pk]}
        ),
        content_type="application/json",
    )
    assert r.status_code == 200, r.content
    cohort = ic.get(f"{API}/cohorts/{cohort_id}").json()
    assert cohort["demo_day"]["investor_ids"] == [setup["investor"].pk]
    assert ic.get(f"{API}/applications").json() == []
    part = cohort["participations"][0]["id"]
    assert ic.get(f"{API}/participations/{part}").json()["check_ins"] == []
    assert (
        len(_client(setup["founder"]).get(f"{API}/participations/{part}").json()["check_ins"]) == 6
    )
