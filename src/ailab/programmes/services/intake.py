"""Programmes and intakes: the call, its terms, rubric and questions (lab staff)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from ailab.accounts.models import NAME_MAX, TEXT_MAX, User
from ailab.common.errors import Conflict, ValidationError
from ailab.common.validation import full_clean_or_raise, require_text
from ailab.programmes import eligibility
from ailab.programmes.models import Criterion, Intake, Programme, ProgrammeKind, Question
from ailab.programmes.services._common import decimal_of, int_of, require_staff

CURRENCIES = ("USD", "HKD")


@transaction.atomic
def programme_create(
    *, actor: User, name: str, kind: str, description: str = "", duration_months: int = 6
) -> Programme:
    require_staff(actor, "create programmes")
    name = require_text(name, field="name", max_length=NAME_MAX)
    if kind not in ProgrammeKind.values:
        raise ValidationError(f"one of: {', '.join(ProgrammeKind.values)}", field="kind")
    if Programme.objects.filter(name__iexact=name).exists():
        raise Conflict("a programme with this name already exists", field="name")
    programme = Programme(
        name=name,
        slug=slugify(name)[:NAME_MAX] or "programme",
        kind=kind,
        description=require_text(description, field="description", max_length=TEXT_MAX, blank=True),
        duration_months=int_of(duration_months, field="duration_months", low=1, high=60),
    )
    full_clean_or_raise(programme)
    programme.save()
    return programme


def _aware(value: object, field: str) -> dt.datetime:
    if not isinstance(value, dt.datetime) or timezone.is_naive(value):
        raise ValidationError("must be a date and time with a time zone", field=field)
    return value


def _terms(terms: dict[str, Any]) -> dict[str, Any]:
    amount = decimal_of(terms.get("funding_amount", 0), field="funding_amount")
    if amount < 0:
        raise ValidationError("cannot be negative", field="funding_amount")
    currency = str(terms.get("funding_currency", "USD")).upper()
    if currency not in CURRENCIES:
        raise ValidationError("one of: USD, HKD", field="funding_currency")
    equity = decimal_of(terms.get("equity_pct", 0), field="equity_pct")
    if amount > 0 and not (Decimal(0) < equity < Decimal(100)):
        raise ValidationError("must be between 0 and 100 (exclusive)", field="equity_pct")
    rate = terms.get("funding_fx_rate")
    return {
        "funding_amount": amount.quantize(Decimal("0.01")),
        "funding_currency": currency,
        "funding_fx_rate": None if rate is None else decimal_of(rate, field="funding_fx_rate"),
        "equity_pct": equity,
        "gpu_hours": int_of(terms.get("gpu_hours", 0), field="gpu_hours", low=0, high=10**7),
        "duration_months": int_of(
            terms.get("duration_months", 6), field="duration_months", low=1, high=60
        ),
    }


def _criteria(intake: Intake, criteria: Sequence[dict[str, Any]]) -> None:
    if not criteria:
        raise ValidationError("give at least one review criterion", field="criteria")
    for i, c in enumerate(criteria):
        field = f"criteria[{i}]"
        weight = decimal_of(c.get("weight", 1), field=f"{field}.weight")
        if weight <= 0:
            raise ValidationError("must be more than zero", field=f"{field}.weight")
        low = int_of(c.get("scale_min", 1), field=f"{field}.scale_min", low=0, high=10)
        high = int_of(c.get("scale_max", 5), field=f"{field}.scale_max", low=low + 1, high=10)
        name = require_text(c.get("name"), field=f"{field}.name", max_length=100)
        Criterion.objects.create(
            intake=intake,
            name=name,
            weight=weight,
            scale_min=low,
            scale_max=high,
            order=i,
            description=require_text(
                c.get("description", ""), field=f"{field}.description", max_length=500, blank=True
            ),
        )


@transaction.atomic
def intake_create(
    *,
    actor: User,
    programme: Programme,
    title: str,
    call_text: str,
    opens_at: dt.datetime,
    closes_at: dt.datetime,
    capacity_min: int = 6,
    capacity_max: int = 10,
    terms: dict[str, Any] | None = None,
    fund_id: int | None = None,
    eligibility_rules: Sequence[dict[str, Any]] = (),
    criteria: Sequence[dict[str, Any]] = (),
    questions: Sequence[dict[str, Any] | str] = (),
) -> Intake:
    """An intake with its award terms, eligibility rules, rubric and questions.

    ``terms``: funding_amount, funding_currency, equity_pct, gpu_hours, duration_months.
    """
    require_staff(actor, "create intakes")
    opens_at, closes_at = _aware(opens_at, "opens_at"), _aware(closes_at, "closes_at")
    if closes_at <= opens_at:
        raise ValidationError("must be after opens_at", field="closes_at")
    low = int_of(capacity_min, field="capacity_min", low=0, high=1000)
    high = int_of(capacity_max, field="capacity_max", low=max(low, 1), high=1000)
    cleaned = _terms(terms or {})
    if cleaned["funding_amount"] > 0 and fund_id is None:
        raise ValidationError("an intake with funding needs a fund", field="fund_id")
    intake = Intake(
        programme=programme,
        title=require_text(title, field="title", max_length=NAME_MAX),
        call_text=require_text(call_text, field="call_text", max_length=20000),
        opens_at=opens_at,
        closes_at=closes_at,
        capacity_min=low,
        capacity_max=high,
        fund_id=fund_id,
        eligibility=eligibility.rules_clean(list(eligibility_rules)),
        **cleaned,
    )
    full_clean_or_raise(intake)
    intake.save()
    _criteria(intake, criteria)
    for i, q in enumerate(questions):
        spec = {"text": q} if isinstance(q, str) else q
        Question.objects.create(
            intake=intake,
            text=require_text(spec.get("text"), field=f"questions[{i}].text", max_length=500),
            required=bool(spec.get("required", True)),
            max_length=int_of(
                spec.get("max_length", 3000), field=f"questions[{i}].max_length", low=1, high=20000
            ),
            order=i,
        )
    return intake


@transaction.atomic
def intake_update(
    *,
    actor: User,
    intake: Intake,
    title: str | None = None,
    call_text: str | None = None,
    closes_at: dt.datetime | None = None,
    capacity_min: int | None = None,
    capacity_max: int | None = None,
) -> Intake:
    """Staff change a call: its text, its capacity, or its deadline (extend or close early).

    Award terms, rubric and questions are fixed once the intake exists: applications and
    reviews were made against them.
    """
    require_staff(actor, "change intakes")
    intake = Intake.objects.select_for_update(of=("self",)).get(pk=intake.pk)
    if title is not None:
        intake.title = require_text(title, field="title", max_length=NAME_MAX)
    if call_text is not None:
        intake.call_text = require_text(call_text, field="call_text", max_length=20000)
    if closes_at is not None:
        closes_at = _aware(closes_at, "closes_at")
        if closes_at <= intake.opens_at:
            raise ValidationError("must be after opens_at", field="closes_at")
        intake.closes_at = closes_at
    low = intake.capacity_min if capacity_min is None else capacity_min
    high = intake.capacity_max if capacity_max is None else capacity_max
    intake.capacity_min = int_of(low, field="capacity_min", low=0, high=1000)
    intake.capacity_max = int_of(
        high, field="capacity_max", low=max(intake.capacity_min, 1), high=1000
    )
    full_clean_or_raise(intake)
    intake.save()
    return intake
