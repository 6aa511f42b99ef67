"""Cohorts: participations, milestones, monthly check-ins, mentors, demo day."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from ailab.accounts.models import NAME_MAX, Organisation
from ailab.common.models import TimeStampedModel
from ailab.common.transitions import Transitions
from ailab.programmes.models.application import Application
from ailab.programmes.models.programme import Intake, Programme


class Cohort(TimeStampedModel):
    """The teams of one intake going through the programme together."""

    intake = models.OneToOneField(Intake, on_delete=models.PROTECT, related_name="cohort")
    name = models.CharField(max_length=NAME_MAX)
    starts_on = models.DateField()
    ends_on = models.DateField()

    class Meta:
        ordering = ["-starts_on"]

    def __str__(self) -> str:
        return self.name


class ParticipationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    GRADUATED = "graduated", "Graduated"
    WITHDRAWN = "withdrawn", "Withdrawn"


P = ParticipationStatus
PARTICIPATION_TRANSITIONS = Transitions(
    "participation",
    {P.ACTIVE: {P.GRADUATED, P.WITHDRAWN}, P.GRADUATED: set(), P.WITHDRAWN: set()},
)


class Participation(TimeStampedModel):
    """A startup's place in a programme: from an award (with a cohort) or from graduation."""

    programme = models.ForeignKey(
        Programme, on_delete=models.PROTECT, related_name="participations"
    )
    cohort = models.ForeignKey(
        Cohort, on_delete=models.PROTECT, null=True, blank=True, related_name="participations"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="participations"
    )
    application = models.OneToOneField(
        Application,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="participation",
    )
    previous = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="next"
    )
    status = models.CharField(
        max_length=16, choices=ParticipationStatus.choices, default=ParticipationStatus.ACTIVE
    )
    starts_on = models.DateField()
    ends_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)
    holding = models.ForeignKey(
        "fund.Holding", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    allocation = models.ForeignKey(
        "compute.Allocation", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["programme", "organisation__name"]

    def __str__(self) -> str:
        return f"{self.organisation} in {self.programme}"


class Milestone(models.Model):
    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE, related_name="milestones")
    title = models.CharField(max_length=NAME_MAX)
    due_on = models.DateField()
    description = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["cohort", "due_on", "id"]

    def __str__(self) -> str:
        return self.title


class CheckIn(models.Model):
    """A monthly check-in: due on a date; what was reported, by whom, when."""

    participation = models.ForeignKey(
        Participation, on_delete=models.CASCADE, related_name="check_ins"
    )
    month = models.PositiveSmallIntegerField()
    due_on = models.DateField()
    summary = models.TextField(blank=True, max_length=5000)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    reported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["participation", "month"]
        constraints = [
            models.UniqueConstraint(
                fields=["participation", "month"], name="check_in_once_per_month"
            )
        ]

    def __str__(self) -> str:
        return f"check-in {self.month} of {self.participation}"

    @property
    def is_overdue(self) -> bool:
        return self.reported_at is None and self.due_on < timezone.localdate()


class MentorAssignment(TimeStampedModel):
    participation = models.ForeignKey(
        Participation, on_delete=models.CASCADE, related_name="mentors"
    )
    mentor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="mentoring"
    )
    focus = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["participation", "mentor"], name="mentor_once_per_participation"
            )
        ]

    def __str__(self) -> str:
        return f"{self.mentor} mentors {self.participation}"


class DemoDay(TimeStampedModel):
    cohort = models.OneToOneField(Cohort, on_delete=models.CASCADE, related_name="demo_day")
    held_at = models.DateTimeField()
    venue = models.CharField(max_length=NAME_MAX, blank=True)
    investors = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="demo_day_invitations"
    )

    def __str__(self) -> str:
        return f"Demo day of {self.cohort}"
