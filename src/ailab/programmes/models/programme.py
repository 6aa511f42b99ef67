"""Programmes and their intakes: the call, capacity, award terms, eligibility, rubric, questions."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils import timezone

from ailab.accounts.models import NAME_MAX, TEXT_MAX
from ailab.common.models import TimeStampedModel


class ProgrammeKind(models.TextChoices):
    ACCELERATOR = "accelerator", "Accelerator"
    INCUBATION = "incubation", "Incubation"
    RESEARCH_COMPUTE = "research_compute", "Research compute call"


class Programme(TimeStampedModel):
    name = models.CharField(max_length=NAME_MAX, unique=True)
    slug = models.SlugField(max_length=NAME_MAX, unique=True)
    kind = models.CharField(max_length=32, choices=ProgrammeKind.choices)
    description = models.TextField(blank=True, max_length=TEXT_MAX)
    duration_months = models.PositiveSmallIntegerField(default=6)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Intake(TimeStampedModel):
    """One call for applications. Times are aware (UTC in the database, shown in the lab's
    time zone). ``eligibility`` is a list of rules as data, see ``programmes.eligibility``."""

    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="intakes")
    title = models.CharField(max_length=NAME_MAX)
    call_text = models.TextField(max_length=20000)
    opens_at = models.DateTimeField()
    closes_at = models.DateTimeField()
    capacity_min = models.PositiveSmallIntegerField(default=6)
    capacity_max = models.PositiveSmallIntegerField(default=10)
    fund = models.ForeignKey(
        "fund.Fund", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    funding_amount = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal("0.00"))
    funding_currency = models.CharField(max_length=3, default="USD")
    funding_fx_rate = models.DecimalField(
        max_digits=18,
        decimal_places=8,
        null=True,
        blank=True,
        help_text="Fund-currency units per funding-currency unit, when they differ.",
    )
    equity_pct = models.DecimalField(max_digits=7, decimal_places=4, default=Decimal("6"))
    gpu_hours = models.PositiveIntegerField(default=0)
    duration_months = models.PositiveSmallIntegerField(default=6)
    eligibility = models.JSONField(default=list, blank=True)
    max_gpu_hours_request = models.PositiveIntegerField(default=50000)

    class Meta:
        ordering = ["-opens_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(closes_at__gt=models.F("opens_at")), name="intake_closes_after_opening"
            ),
            models.CheckConstraint(
                condition=Q(capacity_max__gte=models.F("capacity_min")),
                name="intake_capacity_min_le_max",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def is_open(self, now: object = None) -> bool:
        now = now or timezone.now()
        return bool(self.opens_at <= now < self.closes_at)  # type: ignore[operator]

    @property
    def state(self) -> str:
        now = timezone.now()
        if now < self.opens_at:
            return "upcoming"
        return "open" if now < self.closes_at else "closed"


class Criterion(models.Model):
    """A rubric line: scored on an integer scale (1-5 by default), weighted in the total."""

    intake = models.ForeignKey(Intake, on_delete=models.CASCADE, related_name="criteria")
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=500, blank=True)
    weight = models.DecimalField(max_digits=6, decimal_places=2, default=Decimal("1"))
    scale_min = models.PositiveSmallIntegerField(default=1)
    scale_max = models.PositiveSmallIntegerField(default=5)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["intake", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["intake", "name"], name="criterion_name_per_intake"),
            models.CheckConstraint(condition=Q(weight__gt=0), name="criterion_weight_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class Question(models.Model):
    intake = models.ForeignKey(Intake, on_delete=models.CASCADE, related_name="questions")
    text = models.CharField(max_length=500)
    required = models.BooleanField(default=True)
    max_length = models.PositiveIntegerField(default=3000)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["intake", "order", "id"]

    def __str__(self) -> str:
        return self.text
