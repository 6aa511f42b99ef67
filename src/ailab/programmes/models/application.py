"""Applications to an intake: answers, team, PDF attachments, compute request, status."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from ailab.accounts.models import NAME_MAX, Organisation
from ailab.common.models import TimeStampedModel
from ailab.common.transitions import Transitions, transition_write
from ailab.programmes.models.programme import Intake


class ApplicationStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    UNDER_REVIEW = "under_review", "Under review"
    SHORTLISTED = "shortlisted", "Shortlisted"
    ACCEPTED = "accepted", "Accepted"
    WAITLISTED = "waitlisted", "Waitlisted"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


S = ApplicationStatus
APPLICATION_TRANSITIONS = Transitions(
    "application",
    {
        S.DRAFT: {S.SUBMITTED, S.WITHDRAWN},
        S.SUBMITTED: {S.UNDER_REVIEW, S.REJECTED, S.WITHDRAWN},
        S.UNDER_REVIEW: {S.SHORTLISTED, S.REJECTED, S.WITHDRAWN},
        S.SHORTLISTED: {S.ACCEPTED, S.WAITLISTED, S.REJECTED, S.WITHDRAWN},
        S.WAITLISTED: {S.ACCEPTED, S.REJECTED, S.WITHDRAWN},
        S.ACCEPTED: {S.WITHDRAWN},
        S.REJECTED: set(),
        S.WITHDRAWN: set(),
    },
)


def application_transition(
    application: Application, to: str, *, expect: str, **fields: object
) -> bool:
    """The one writer of ``Application.status``: declared transitions, guarded UPDATE."""
    return transition_write(APPLICATION_TRANSITIONS, application, to=to, expect=expect, **fields)


DECIDED = frozenset({S.ACCEPTED, S.WAITLISTED, S.REJECTED})
IN_REVIEW = frozenset({S.SUBMITTED, S.UNDER_REVIEW, S.SHORTLISTED})


class Application(TimeStampedModel):
    intake = models.ForeignKey(Intake, on_delete=models.PROTECT, related_name="applications")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="applications"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        max_length=16, choices=ApplicationStatus.choices, default=ApplicationStatus.DRAFT
    )
    answers = models.JSONField(default=dict, blank=True, help_text="question id -> answer")
    gpu_hours_requested = models.PositiveIntegerField(default=0)
    compute_justification = models.TextField(blank=True, max_length=3000)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_message = models.TextField(blank=True, max_length=5000)

    class Meta:
        ordering = ["intake", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["intake", "organisation"], name="application_one_per_intake_and_org"
            )
        ]

    def __str__(self) -> str:
        return f"{self.organisation} → {self.intake}"

    @property
    def is_editable(self) -> bool:
        return self.status == ApplicationStatus.DRAFT


class TeamMember(models.Model):
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="team")
    name = models.CharField(max_length=NAME_MAX)
    email = models.EmailField(blank=True)
    role = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["application", "id"]

    def __str__(self) -> str:
        return self.name


def attachment_path(instance: Attachment, filename: str) -> str:
    # Never the uploaded name: a random one with a fixed .pdf suffix, under the data directory.
    return f"programmes/applications/{instance.application_id}/{uuid.uuid4().hex}.pdf"


class Attachment(TimeStampedModel):
    """A PDF (pitch deck). Checked by magic bytes and size; only ever served as a download."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(upload_to=attachment_path, max_length=300)
    original_name = models.CharField(max_length=255)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering = ["application", "id"]

    def __str__(self) -> str:
        return self.original_name
