"""Applications: drafts, answers, team, PDF attachments, submission before the deadline."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from ailab.accounts.models import Organisation, User
from ailab.accounts.roles import is_lab_staff, is_member_of, manages_organisation
from ailab.common.errors import Conflict, InvalidTransition, PermissionDenied, ValidationError
from ailab.common.validation import require_text
from ailab.programmes import eligibility
from ailab.programmes.models import (
    APPLICATION_TRANSITIONS,
    Application,
    ApplicationStatus,
    Attachment,
    Intake,
    TeamMember,
    application_transition,
)
from ailab.programmes.services._common import int_of

DEFAULT_ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS = 5
PDF_MAGIC = b"%PDF-"


def attachment_max_bytes() -> int:
    return int(getattr(settings, "AILAB_ATTACHMENT_MAX_BYTES", DEFAULT_ATTACHMENT_MAX_BYTES))


def _require_open(intake: Intake, what: str) -> None:
    now = timezone.now()
    if now < intake.opens_at:
        raise ValidationError(f"the call opens at {intake.opens_at:%Y-%m-%d %H:%M} UTC", field=what)
    if now >= intake.closes_at:
        local = timezone.localtime(intake.closes_at)
        raise ValidationError(
            f"the call closed at {local:%Y-%m-%d %H:%M %Z}; {what} is no longer possible",
            field="closes_at",
        )


def _require_editor(actor: User, application: Application) -> None:
    if not (
        application.created_by_id == actor.pk
        or manages_organisation(actor, application.organisation_id)
    ):
        raise PermissionDenied("only the applicant's founders may change the application")


def _require_draft(application: Application) -> None:
    if application.status != ApplicationStatus.DRAFT:
        raise InvalidTransition(
            f"the application is {application.status}; it can no longer be changed "
            "(only withdrawn)",
            field="status",
        )


def _clean_answers(intake: Intake, answers: dict[str, Any]) -> dict[str, str]:
    questions = {str(q.pk): q for q in intake.questions.all()}
    cleaned: dict[str, str] = {}
    for key, value in (answers or {}).items():
        q = questions.get(str(key))
        if q is None:
            raise ValidationError("no such question in this intake", field=f"answers.{key}")
        cleaned[str(key)] = require_text(
            str(value), field=f"answers.{key}", max_length=q.max_length, blank=True
        )
    return cleaned


def _set_team(application: Application, team: Sequence[dict[str, str]]) -> None:
    application.team.all().delete()
    for i, member in enumerate(team):
        TeamMember.objects.create(
            application=application,
            name=require_text(member.get("name"), field=f"team[{i}].name", max_length=200),
            email=require_text(
                member.get("email", ""), field=f"team[{i}].email", max_length=254, blank=True
            ),
            role=require_text(
                member.get("role", ""), field=f"team[{i}].role", max_length=100, blank=True
            ),
        )


def _set_compute(
    application: Application, gpu_hours: int | None, justification: str | None
) -> None:
    if gpu_hours is not None:
        application.gpu_hours_requested = int_of(
            gpu_hours,
            field="gpu_hours_requested",
            low=0,
            high=application.intake.max_gpu_hours_request,
        )
    if justification is not None:
        application.compute_justification = require_text(
            justification, field="compute_justification", max_length=3000, blank=True
        )


@transaction.atomic
def application_create(
    *,
    actor: User,
    intake: Intake,
    organisation: Organisation,
    answers: dict[str, Any] | None = None,
    team: Sequence[dict[str, str]] = (),
    gpu_hours_requested: int = 0,
    compute_justification: str = "",
) -> Application:
    """A draft application by one of the organisation's founders, while the call is open."""
    if not manages_organisation(actor, organisation.pk):
        raise PermissionDenied("only the organisation's founders may apply for it")
    _require_open(intake, "applying")
    reason = eligibility.check(intake.eligibility, organisation)
    if reason:
        raise ValidationError(reason, field="organisation_id")
    if Application.objects.filter(intake=intake, organisation=organisation).exists():
        raise Conflict(
            f"{organisation.name} has already applied to this intake", field="organisation_id"
        )
    application = Application(
        intake=intake,
        organisation=organisation,
        created_by=actor,
        answers=_clean_answers(intake, answers or {}),
    )
    _set_compute(application, gpu_hours_requested, compute_justification)
    application.save()
    _set_team(application, team)
    return application


@transaction.atomic
def application_update(
    *,
    actor: User,
    application: Application,
    answers: dict[str, Any] | None = None,
    team: Sequence[dict[str, str]] | None = None,
    gpu_hours_requested: int | None = None,
    compute_justification: str | None = None,
) -> Application:
    """Change a draft (answers are merged). Refused once submitted or after the deadline."""
    application = Application.objects.select_for_update(of=("self",)).get(pk=application.pk)
    _require_editor(actor, application)
    _require_draft(application)
    _require_open(application.intake, "editing")
    if answers is not None:
        application.answers = {**application.answers, **_clean_answers(application.intake, answers)}
    _set_compute(application, gpu_hours_requested, compute_justification)
    application.save()
    if team is not None:
        _set_team(application, team)
    return application


def _read_upload(upload: Any, limit: int) -> bytes:
    size = getattr(upload, "size", None)
    if size is not None and size > limit:
        raise ValidationError(
            f"at most {limit // (1024 * 1024)} MiB (got {size} bytes)", field="file"
        )
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ValidationError(f"at most {limit // (1024 * 1024)} MiB", field="file")
    return bytes(data)


@transaction.atomic
def attachment_add(*, actor: User, application: Application, upload: Any) -> Attachment:
    """Attach a PDF to a draft: the content must start with %PDF- and fit the size limit.

    Stored under MEDIA_ROOT with a random name; never served inline (see views).
    """
    application = Application.objects.select_for_update(of=("self",)).get(pk=application.pk)
    _require_editor(actor, application)
    _require_draft(application)
    _require_open(application.intake, "uploading")
    name = require_text(getattr(upload, "name", ""), field="file", max_length=255)
    if not name.lower().endswith(".pdf"):
        raise ValidationError("only PDF files (.pdf) are accepted", field="file")
    data = _read_upload(upload, attachment_max_bytes())
    if not data:
        raise ValidationError("the file is empty", field="file")
    if not data.startswith(PDF_MAGIC):
        raise ValidationError("not a PDF: the content does not start with %PDF-", field="file")
    if application.attachments.count() >= MAX_ATTACHMENTS:
        raise ValidationError(f"at most {MAX_ATTACHMENTS} attachments", field="file")
    attachment = Attachment(
        application=application,
        original_name=name.replace("/", "_").replace("\\", "_")[-255:],
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        uploaded_by=actor,
    )
    attachment.file.save("deck.pdf", ContentFile(data), save=False)
    attachment.save()
    return attachment


@transaction.atomic
def application_submit(*, actor: User, application: Application) -> Application:
    """Submit before the deadline (the server's clock decides); required answers must be given."""
    application = (
        Application.objects.select_for_update(of=("self",))
        .select_related("intake")
        .get(pk=application.pk)
    )
    _require_editor(actor, application)
    APPLICATION_TRANSITIONS.check(application.status, ApplicationStatus.SUBMITTED)
    _require_open(application.intake, "submitting")
    missing = [
        (f"answers.{q.pk}", "this question needs an answer")
        for q in application.intake.questions.all()
        if q.required and not application.answers.get(str(q.pk), "").strip()
    ]
    if missing:
        raise ValidationError(errors=missing)
    if application.gpu_hours_requested and not application.compute_justification:
        raise ValidationError("say what the GPU-hours are for", field="compute_justification")
    application_transition(
        application,
        ApplicationStatus.SUBMITTED,
        expect=application.status,
        submitted_at=timezone.now(),
    )
    return application


@transaction.atomic
def application_withdraw(*, actor: User, application: Application) -> Application:
    """The applicant (any member) or lab staff withdraws; allowed from any non-final state."""
    application = Application.objects.select_for_update(of=("self",)).get(pk=application.pk)
    if not (is_lab_staff(actor) or is_member_of(actor, application.organisation_id)):
        raise PermissionDenied("only the applicant or lab staff may withdraw an application")
    if hasattr(application, "participation"):
        raise InvalidTransition(
            "the team already takes part in the cohort; withdraw the participation", field="status"
        )
    application_transition(application, ApplicationStatus.WITHDRAWN, expect=application.status)
    return application
