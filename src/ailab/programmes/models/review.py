"""Review: assignments (conflicts excluded), scored reviews, declared conflicts."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from ailab.accounts.models import Organisation
from ailab.common.models import TimeStampedModel
from ailab.programmes.models.application import Application
from ailab.programmes.models.programme import Criterion


class ConflictDeclaration(TimeStampedModel):
    """A reviewer's declared conflict with an organisation (advisor, relative, competitor)."""

    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="declared_conflicts"
    )
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=500)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["reviewer", "organisation"], name="conflict_once_per_organisation"
            )
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} ↔ {self.organisation}"


class ReviewAssignment(TimeStampedModel):
    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="assignments"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_assignments"
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering = ["application", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "reviewer"], name="assignment_once_per_reviewer"
            )
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} reviews {self.application}"


class Review(TimeStampedModel):
    """A submitted review: one per assignment, immutable once written."""

    assignment = models.OneToOneField(
        ReviewAssignment, on_delete=models.CASCADE, related_name="review"
    )
    comments = models.TextField(blank=True, max_length=5000)
    confidence = models.PositiveSmallIntegerField(help_text="1 (guess) to 5 (expert)")
    submitted_at = models.DateTimeField()

    class Meta:
        ordering = ["assignment", "id"]

    def __str__(self) -> str:
        return f"review of {self.assignment.application}"


class CriterionScore(models.Model):
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="scores")
    criterion = models.ForeignKey(Criterion, on_delete=models.PROTECT, related_name="+")
    score = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["review", "criterion__order", "criterion_id"]
        constraints = [
            models.UniqueConstraint(fields=["review", "criterion"], name="score_once_per_criterion")
        ]

    def __str__(self) -> str:
        return f"{self.criterion}: {self.score}"
