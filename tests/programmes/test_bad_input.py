"""Bad input gets a clear error (field + reason) and leaves the data as it was."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.utils import timezone

from ailab.common.errors import InvalidTransition, QuotaExceeded, ValidationError
from ailab.fund import services as fund_services
from ailab.fund.models import LedgerEntry
from ailab.programmes import services
from ailab.programmes.models import (
    Application,
    ApplicationStatus,
    Attachment,
    Cohort,
    Intake,
    Participation,
    Review,
)
from tests.fund import factories
from tests.programmes.conftest import answers_for, scores_for

pytestmark = pytest.mark.django_db


def _upload(body: bytes, name: str = "deck.pdf"):  # type: ignore[no-untyped-def]
    f = io.BytesIO(body)
    f.name = name
    f.size = len(body)  # type: ignore[attr-defined]
    return f


@pytest.fixture
def draft(make_intake):  # type: ignore[no-untyped-def]
    intake = make_intake()
    org = factories.organisation("Draft AI")
    founder = factories.founder(org)
    app = services.application_create(
        actor=founder, intake=intake, organisation=org, answers=answers_for(intake)
    )
    return app, founder


def test_submission_after_deadline_is_refused(draft) -> None:  # type: ignore[no-untyped-def]
    """After closes_at the server refuses submission (field closes_at); it stays a draft."""
    app, founder = draft
    Intake.objects.filter(pk=app.intake_id).update(
        closes_at=timezone.now() - dt.timedelta(seconds=1)
    )
    with pytest.raises(ValidationError) as err:
        services.application_submit(actor=founder, application=app)
    assert err.value.field == "closes_at"
    assert "closed" in err.value.reason
    app.refresh_from_db()
    assert app.status == ApplicationStatus.DRAFT
    assert app.submitted_at is None


def test_application_before_opening_is_refused(make_intake) -> None:  # type: ignore[no-untyped-def]
    """An intake that has not opened takes no applications."""
    now = timezone.now()
    intake = make_intake(opens_at=now + dt.timedelta(days=1), closes_at=now + dt.timedelta(days=2))
    org = factories.organisation()
    with pytest.raises(ValidationError):
        services.application_create(actor=factories.founder(org), intake=intake, organisation=org)
    assert not Application.objects.exists()


def test_missing_required_answer(draft) -> None:  # type: ignore[no-untyped-def]
    """A required question without an answer names answers.<question id>."""
    app, founder = draft
    required = app.intake.questions.filter(required=True).first()
    Application.objects.filter(pk=app.pk).update(answers={})
    with pytest.raises(ValidationError) as err:
        services.application_submit(actor=founder, application=app)
    assert err.value.field == f"answers.{required.pk}"


def test_no_edits_after_submission(draft) -> None:  # type: ignore[no-untyped-def]
    """Once submitted the application cannot be edited or given attachments; it can be
    withdrawn."""
    app, founder = draft
    services.application_submit(actor=founder, application=app)
    with pytest.raises(InvalidTransition):
        services.application_update(actor=founder, application=app, answers={})
    with pytest.raises(InvalidTransition):
        services.attachment_add(actor=founder, application=app, upload=_upload(b"%PDF-1.4"))
    services.application_withdraw(actor=founder, application=app)
    app.refresh_from_db()
    assert app.status == ApplicationStatus.WITHDRAWN


def test_ineligible_organisation_is_refused(make_intake, staff) -> None:  # type: ignore[no-untyped-def]
    """A university may not apply to a startups-only intake (field organisation_id)."""
    intake = make_intake()
    uni = factories.organisation("HKU", kind="university")
    with pytest.raises(ValidationError) as err:
        services.application_create(actor=staff, intake=intake, organisation=uni)
    assert err.value.field == "organisation_id"
    assert "startup" in err.value.reason


@pytest.mark.parametrize(
    ("body", "name", "reason"),
    [
        (b"MZ\x90\x00 not a pdf", "deck.pdf", "not a PDF"),
        (b"%PDF-1.7 but named", "deck.exe", "only PDF"),
        (b"", "deck.pdf", "empty"),
    ],
)
def test_attachment_not_a_pdf(draft, settings, body, name, reason) -> None:  # type: ignore[no-untyped-def]
    """Content that does not start with %PDF-, a non-.pdf name, or an empty file is refused
    (field file); nothing is stored."""
    app, founder = draft
    with pytest.raises(ValidationError) as err:
        services.attachment_add(actor=founder, application=app, upload=_upload(body, name))
    assert err.value.field == "file"
    assert reason in err.value.reason
    assert not Attachment.objects.exists()
    media = settings.MEDIA_ROOT
    stored = [p for p in media.rglob("*") if p.is_file()] if media.exists() else []
    assert stored == []


def test_attachment_too_large(draft, settings) -> None:  # type: ignore[no-untyped-def]
    """A PDF over the size limit is refused (field file), even when it lies about its size."""
    settings.AILAB_ATTACHMENT_MAX_BYTES = 1024
    app, founder = draft
    big = b"%PDF-1.7\n" + b"0" * 2048
    with pytest.raises(ValidationError) as err:
        services.attachment_add(actor=founder, application=app, upload=_upload(big))
    assert err.value.field == "file"
    liar = _upload(big)
    liar.size = 10  # type: ignore[attr-defined]
    with pytest.raises(ValidationError):
        services.attachment_add(actor=founder, application=app, upload=liar)
    assert not Attachment.objects.exists()


def test_attachment_is_stored_under_media_root(draft, settings) -> None:  # type: ignore[no-untyped-def]
    """A good PDF is stored under MEDIA_ROOT with a random .pdf name and its digest."""
    app, founder = draft
    att = services.attachment_add(
        actor=founder, application=app, upload=_upload(b"%PDF-1.7\n%%EOF", "../../evil.pdf")
    )
    path = att.file.path
    assert path.startswith(str(settings.MEDIA_ROOT))
    assert "evil" not in path
    assert path.endswith(".pdf")
    assert att.original_name == ".._.._evil.pdf"
    assert len(att.sha256) == 64


@pytest.fixture
def assigned(make_intake, staff, reviewer):  # type: ignore[no-untyped-def]
    intake = make_intake()
    org = factories.organisation("Scored AI")
    founder = factories.founder(org)
    app = services.application_create(
        actor=founder, intake=intake, organisation=org, answers=answers_for(intake)
    )
    services.application_submit(actor=founder, application=app)
    return services.review_assign(actor=staff, application=app, reviewer=reviewer), intake


@pytest.mark.parametrize("value", [0, 6, -1])
def test_score_outside_scale(assigned, reviewer, value) -> None:  # type: ignore[no-untyped-def]
    """A score outside 1-5 names the criterion (scores.Team); no review is written."""
    assignment, intake = assigned
    scores = scores_for(intake, 3) | {"Team": value}
    with pytest.raises(ValidationError) as err:
        services.review_submit(actor=reviewer, assignment=assignment, scores=scores, confidence=3)
    assert err.value.field == "scores.Team"
    assert "between 1 and 5" in err.value.reason
    assert not Review.objects.exists()


def test_missing_score_and_bad_confidence(assigned, reviewer) -> None:  # type: ignore[no-untyped-def]
    """Every criterion must be scored; confidence is 1-5."""
    assignment, intake = assigned
    with pytest.raises(ValidationError) as err:
        services.review_submit(
            actor=reviewer, assignment=assignment, scores={"Team": 3}, confidence=3
        )
    assert err.value.field == "scores.Technology"
    with pytest.raises(ValidationError) as err:
        services.review_submit(
            actor=reviewer, assignment=assignment, scores=scores_for(intake, 3), confidence=9
        )
    assert err.value.field == "confidence"
    assert not Review.objects.exists()


def _under_review(intake, n):  # type: ignore[no-untyped-def]
    ids = []
    for _ in range(n):
        org = factories.organisation()
        founder = factories.founder(org)
        app = services.application_create(
            actor=founder, intake=intake, organisation=org, answers=answers_for(intake)
        )
        services.application_submit(actor=founder, application=app)
        ids.append(app.pk)
    Application.objects.filter(pk__in=ids).update(status=ApplicationStatus.UNDER_REVIEW)
    return ids


def test_selection_beyond_capacity(make_intake, staff) -> None:  # type: ignore[no-untyped-def]
    """Selecting 11 for a capacity of 10 is refused (field accept); no status changes."""
    fund = factories.fund(staff, "5000000")
    intake = make_intake(fund=fund)
    ids = _under_review(intake, 11)
    with pytest.raises(ValidationError) as err:
        services.selection_decide(actor=staff, intake=intake, accept=ids)
    assert err.value.field == "accept"
    assert "capacity is 10" in err.value.reason
    assert set(Application.objects.values_list("status", flat=True)) == {"under_review"}


def test_selection_beyond_cash(make_intake, staff) -> None:  # type: ignore[no-untyped-def]
    """Selecting 6 with cash for 5 is refused with the reason; nothing changes."""
    fund = factories.fund(staff, "500000")
    intake = make_intake(fund=fund)
    ids = _under_review(intake, 6)
    entries = LedgerEntry.objects.count()
    with pytest.raises(QuotaExceeded) as err:
        services.selection_decide(actor=staff, intake=intake, accept=ids)
    assert err.value.field == "accept"
    assert "US$500,000.00 available" in err.value.reason
    assert "US$600,000.00" in err.value.reason
    assert set(Application.objects.values_list("status", flat=True)) == {"under_review"}
    assert LedgerEntry.objects.count() == entries
    services.selection_decide(actor=staff, intake=intake, accept=ids[:5])
    assert Application.objects.filter(status=ApplicationStatus.ACCEPTED).count() == 5


@pytest.mark.parametrize("pct", ["0", "100", "-3", "120"])
def test_intake_equity_outside_range(make_intake, staff, pct) -> None:  # type: ignore[no-untyped-def]
    """An intake whose equity is outside (0, 100) is refused naming equity_pct."""
    fund = factories.fund(staff, "1000")
    before = Intake.objects.count()
    with pytest.raises(ValidationError) as err:
        make_intake(fund=fund, terms={"funding_amount": "100000", "equity_pct": pct})
    assert err.value.field == "equity_pct"
    assert Intake.objects.count() == before


def test_award_rolls_back_when_compute_refuses(make_intake, staff, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """If granting the allocation fails, the fund entry and participation are undone too."""
    from ailab.common.errors import ValidationError as VE
    from ailab.compute import services as compute_services

    fund = factories.fund(staff, "500000")
    intake = make_intake(fund=fund)
    ids = _under_review(intake, 1)
    services.selection_decide(actor=staff, intake=intake, accept=ids)

    def refuse(**kwargs):  # type: ignore[no-untyped-def]
        raise VE("no such cluster", field="cluster")

    monkeypatch.setattr(compute_services, "allocation_grant", refuse)
    entries = LedgerEntry.objects.count()
    with pytest.raises(VE):
        services.award_grant(actor=staff, application=Application.objects.get(pk=ids[0]))
    assert LedgerEntry.objects.count() == entries
    assert not Participation.objects.exists()
    assert not Cohort.objects.exists()


def test_rejecting_needs_no_cash(make_intake, staff) -> None:  # type: ignore[no-untyped-def]
    """With the fund spent, staff can still waitlist and reject: only acceptances cost."""
    fund = factories.fund(staff, "100000")
    intake = make_intake(fund=fund)
    ids = _under_review(intake, 3)
    services.selection_decide(actor=staff, intake=intake, accept=ids[:1])
    # Cash drops below what the accepted (unpaid) award needs.
    fund_services.investment_record(
        actor=staff,
        fund=fund,
        organisation=factories.organisation(),
        amount="50000",
        equity_pct="5",
        on=dt.date(2025, 1, 1),
    )
    result = services.selection_decide(
        actor=staff, intake=intake, accept=[], waitlist=ids[1:2], reject_rest=True
    )
    assert result == {"accepted": [], "waitlisted": [ids[1]], "rejected": [ids[2]]}


def test_refused_selection_mails_no_one(  # type: ignore[no-untyped-def]
    make_intake, staff, django_capture_on_commit_callbacks, mailoutbox
):
    """Decisions are mailed after commit: a refused selection sends nothing, a good one
    mails each decided applicant once the transaction commits."""
    fund = factories.fund(staff, "100000")
    intake = make_intake(fund=fund)
    ids = _under_review(intake, 2)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(QuotaExceeded):
        services.selection_decide(actor=staff, intake=intake, accept=ids)
    assert mailoutbox == []
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.selection_decide(actor=staff, intake=intake, accept=ids[:1], reject_rest=True)
    assert len(callbacks) == 2
    assert len(mailoutbox) == 2
    assert "selected" in mailoutbox[0].body
