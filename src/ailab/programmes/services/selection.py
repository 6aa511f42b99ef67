"""Selection within capacity and the fund's cash; decisions mailed after commit; awards.

An award is one transaction: the fund's investment entry, the compute allocation and the
team's participation in the cohort all happen, or none does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from ailab.accounts.models import Membership, User
from ailab.common.errors import Conflict, InvalidTransition, QuotaExceeded, ValidationError
from ailab.common.mail import mail_after_commit
from ailab.common.validation import require_text
from ailab.compute import services as compute_services
from ailab.fund import selectors as fund_selectors
from ailab.fund import services as fund_services
from ailab.programmes.models import (
    APPLICATION_TRANSITIONS,
    Application,
    ApplicationStatus,
    CheckIn,
    Cohort,
    Intake,
    Milestone,
    Participation,
    application_transition,
)
from ailab.programmes.services._common import require_staff
from ailab.programmes.timeline import DEFAULT_MILESTONES, add_months

S = ApplicationStatus
SELECTABLE = (S.UNDER_REVIEW, S.SHORTLISTED, S.WAITLISTED)
OPEN = (S.SUBMITTED, S.UNDER_REVIEW, S.SHORTLISTED, S.WAITLISTED)
DEFAULT_MESSAGES: dict[str, str] = {
    S.ACCEPTED: "Congratulations: {org} has been selected for {intake}.",
    S.WAITLISTED: "{org} is on the waiting list for {intake}; we will write again soon.",
    S.REJECTED: "Thank you for applying to {intake}. We cannot offer {org} a place this time.",
}


def _move(app: Application, target: str, **fields: object) -> None:
    """Walk the declared transitions (via shortlisted where needed) to ``target``."""
    if app.status in (S.UNDER_REVIEW,) and target in (S.ACCEPTED, S.WAITLISTED):
        APPLICATION_TRANSITIONS.check(S.SHORTLISTED, target)
        application_transition(app, S.SHORTLISTED, expect=app.status)
    if not application_transition(app, target, expect=app.status, **fields):
        raise Conflict("the application changed meanwhile; try again", field="status")


@transaction.atomic
def application_shortlist(*, actor: User, application: Application) -> Application:
    require_staff(actor, "shortlist applications")
    app = Application.objects.select_for_update(of=("self",)).get(pk=application.pk)
    _move(app, S.SHORTLISTED)
    return app


def _recipients(app: Application) -> list[str]:
    emails = set(
        Membership.objects.filter(organisation_id=app.organisation_id).values_list(
            "user__email", flat=True
        )
    )
    emails.add(app.created_by.email)
    return sorted(emails)


def award_cost(intake: Intake) -> Decimal:
    """One award's funding in the fund's currency (the intake's explicit rate if they differ)."""
    if intake.funding_amount <= 0 or intake.fund is None:
        return Decimal("0.00")
    money = fund_selectors.Money(intake.funding_amount, intake.funding_currency)
    return money.convert(intake.fund.currency, intake.funding_fx_rate).amount


def _check_capacity_and_cash(intake: Intake, new: int) -> None:
    if new == 0:
        return  # waitlisting and rejecting need neither a place nor cash
    accepted = Application.objects.filter(intake=intake, status=S.ACCEPTED)
    if accepted.count() + new > intake.capacity_max:
        raise ValidationError(
            f"capacity is {intake.capacity_max}: {accepted.count()} already accepted, "
            f"{new} more selected",
            field="accept",
        )
    cost = award_cost(intake)
    if cost <= 0 or intake.fund is None:
        return
    unfunded = accepted.filter(participation__isnull=True).count()
    need = cost * (unfunded + new)
    available = fund_selectors.fund_balances(fund=intake.fund).available
    if need > available:
        cur = intake.fund.currency
        raise QuotaExceeded(
            f"the fund has {fund_selectors.Money(available, cur)} available; "
            f"{unfunded + new} award(s) of {fund_selectors.Money(cost, cur)} need "
            f"{fund_selectors.Money(need, cur)}",
            field="accept",
        )


def _decide(
    app: Application, status: str, message: str, now: dt.datetime, notify: bool = True
) -> None:
    template = message or DEFAULT_MESSAGES[status]
    _move(
        app,
        status,
        decision_message=template.format(org=app.organisation.name, intake=app.intake.title),
        decided_at=now,
    )
    if notify:
        mail_after_commit(
            key=f"decision:{app.pk}:{app.status}",
            subject=f"{app.intake.title}: your application is {app.get_status_display().lower()}",
            body=app.decision_message,
            to=_recipients(app),
        )


@transaction.atomic
def selection_decide(
    *,
    actor: User,
    intake: Intake,
    accept: Sequence[int],
    waitlist: Sequence[int] = (),
    reject_rest: bool = False,
    message: str = "",
    messages: dict[str, str] | None = None,
    notify: bool = True,
) -> dict[str, list[int]]:
    """Accept, waitlist (and optionally reject the rest) in one go; each decision is recorded
    with its message and mailed after commit (unless ``notify`` is off, as in the demo).
    Beyond capacity (ValidationError) or beyond the fund's available cash (QuotaExceeded),
    nothing changes."""
    require_staff(actor, "select applications")
    intake = Intake.objects.select_for_update(of=("self",)).select_related("fund").get(pk=intake.pk)
    message = require_text(message, field="message", max_length=5000, blank=True)
    ids = list(accept) + list(waitlist)
    if len(set(ids)) != len(ids):
        raise ValidationError("an application is listed twice", field="accept")
    apps = {
        a.pk: a
        for a in Application.objects.select_for_update(of=("self",))
        .select_related("organisation", "intake")
        .filter(intake=intake, pk__in=ids)
    }
    for i, pk in enumerate(ids):
        field = f"accept[{i}]" if i < len(accept) else f"waitlist[{i - len(accept)}]"
        if pk not in apps:
            raise ValidationError(f"no application {pk} in this intake", field=field)
        if apps[pk].status not in SELECTABLE:
            raise InvalidTransition(f"application {pk} is {apps[pk].status}", field=field)
    _check_capacity_and_cash(intake, len(accept))
    now = timezone.now()
    texts = messages or {}
    for pk in accept:
        _decide(apps[pk], S.ACCEPTED, texts.get(S.ACCEPTED, message), now, notify)
    for pk in waitlist:
        _decide(apps[pk], S.WAITLISTED, texts.get(S.WAITLISTED, ""), now, notify)
    rejected: list[int] = []
    if reject_rest:
        rest = Application.objects.select_for_update(of=("self",)).select_related(
            "organisation", "intake"
        )
        for app in rest.filter(intake=intake, status__in=OPEN).exclude(pk__in=ids):
            _decide(app, S.REJECTED, texts.get(S.REJECTED, ""), now, notify)
            rejected.append(app.pk)
    return {"accepted": list(accept), "waitlisted": list(waitlist), "rejected": rejected}


def _cohort_for(intake: Intake, on: dt.date) -> Cohort:
    cohort = Cohort.objects.filter(intake=intake).first()
    if cohort is not None:
        return cohort
    cohort = Cohort.objects.create(
        intake=intake,
        name=f"{intake.title} cohort",
        starts_on=on,
        ends_on=add_months(on, intake.duration_months),
    )
    for month, title, description in DEFAULT_MILESTONES:
        if month <= intake.duration_months:
            Milestone.objects.create(
                cohort=cohort,
                title=title,
                description=description,
                due_on=add_months(on, month),
            )
    return cohort


def _grant_compute(actor: User, app: Application, on: dt.date, ends_on: dt.date) -> Any:
    intake = app.intake
    if intake.gpu_hours <= 0:
        return None
    members = [m.user for m in Membership.objects.filter(organisation=app.organisation)]
    return compute_services.allocation_grant(
        actor=actor,
        organisation=app.organisation,
        name=f"{intake.title}: {app.organisation.name}"[:200],
        gpu_hours=intake.gpu_hours,
        starts_on=on,
        ends_on=ends_on - dt.timedelta(days=1),
        members=members,
        note=f"Award for application {app.pk}",
    )


@transaction.atomic
def award_grant(
    *, actor: User, application: Application, on: dt.date | None = None
) -> Participation:
    """In one transaction: the fund's investment (refused beyond its cash), the compute
    allocation over the programme's months, and the participation in the intake's cohort."""
    require_staff(actor, "grant awards")
    app = (
        Application.objects.select_for_update(of=("self",))
        .select_related("intake__programme", "intake__fund", "organisation")
        .get(pk=application.pk)
    )
    if app.status != S.ACCEPTED:
        raise InvalidTransition(
            f"only an accepted application gets an award (this one is {app.status})", field="status"
        )
    if Participation.objects.filter(application=app).exists():
        raise Conflict("this application already has its award", field="application_id")
    on = on or timezone.localdate()
    intake = app.intake
    cohort = _cohort_for(intake, on)
    holding = None
    if intake.funding_amount > 0 and intake.fund is not None:
        holding = fund_services.investment_record(
            actor=actor,
            fund=intake.fund,
            organisation=app.organisation,
            amount=intake.funding_amount,
            currency=intake.funding_currency,
            fx_rate=intake.funding_fx_rate,
            equity_pct=intake.equity_pct,
            on=on,
            reference=f"award:{app.pk}",
            memo=f"{intake.title} award",
        )
    ends_on = add_months(on, intake.duration_months)
    participation = Participation.objects.create(
        programme=intake.programme,
        cohort=cohort,
        organisation=app.organisation,
        application=app,
        starts_on=on,
        ends_on=ends_on,
        holding=holding,
        allocation=_grant_compute(actor, app, on, ends_on),
    )
    CheckIn.objects.bulk_create(
        CheckIn(participation=participation, month=m, due_on=add_months(on, m))
        for m in range(1, intake.duration_months + 1)
    )
    return participation


def awards_grant(*, actor: User, intake: Intake, on: dt.date | None = None) -> list[Participation]:
    """Grant every accepted application's award that is not granted yet (one transaction)."""
    with transaction.atomic():
        pending = Application.objects.filter(
            intake=intake, status=S.ACCEPTED, participation__isnull=True
        ).order_by("pk")
        return [award_grant(actor=actor, application=a, on=on) for a in pending]
