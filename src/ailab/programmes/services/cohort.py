"""Cohorts: milestones, monthly check-ins, mentors, demo day, graduation, withdrawal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from ailab.accounts.models import NAME_MAX, Role, User
from ailab.accounts.roles import has_role, is_lab_staff, is_member_of, manages_organisation
from ailab.common.errors import Conflict, PermissionDenied, ValidationError
from ailab.common.validation import require_text
from ailab.programmes.models import (
    CheckIn,
    Cohort,
    DemoDay,
    MentorAssignment,
    Milestone,
    Participation,
    ParticipationStatus,
    Programme,
    ProgrammeKind,
)
from ailab.programmes.models.cohort import PARTICIPATION_TRANSITIONS
from ailab.programmes.services._common import require_staff
from ailab.programmes.timeline import add_months


@transaction.atomic
def milestone_add(
    *, actor: User, cohort: Cohort, title: str, due_on: dt.date, description: str = ""
) -> Milestone:
    require_staff(actor, "plan milestones")
    if not (cohort.starts_on <= due_on <= cohort.ends_on):
        raise ValidationError(
            f"must fall within the cohort ({cohort.starts_on} to {cohort.ends_on})", field="due_on"
        )
    return Milestone.objects.create(
        cohort=cohort,
        title=require_text(title, field="title", max_length=NAME_MAX),
        due_on=due_on,
        description=require_text(description, field="description", max_length=500, blank=True),
    )


@transaction.atomic
def check_in_report(*, actor: User, check_in: CheckIn, summary: str) -> CheckIn:
    """A team member reports the month: what, by whom, when (kept; reported once)."""
    check_in = (
        CheckIn.objects.select_for_update(of=("self",))
        .select_related("participation")
        .get(pk=check_in.pk)
    )
    participation = check_in.participation
    if not (is_member_of(actor, participation.organisation_id) or is_lab_staff(actor)):
        raise PermissionDenied("only the team or lab staff may report a check-in")
    if participation.status != ParticipationStatus.ACTIVE:
        raise Conflict(f"the participation is {participation.status}", field="status")
    if check_in.reported_at is not None:
        raise Conflict("this check-in has been reported", field="check_in_id")
    check_in.summary = require_text(summary, field="summary", max_length=5000)
    check_in.reported_by = actor
    check_in.reported_at = timezone.now()
    check_in.save()
    return check_in


@transaction.atomic
def mentor_assign(
    *, actor: User, participation: Participation, mentor: User, focus: str = ""
) -> MentorAssignment:
    require_staff(actor, "assign mentors")
    if is_member_of(mentor, participation.organisation_id):
        raise ValidationError("a mentor cannot be a member of the team", field="mentor_id")
    assignment, created = MentorAssignment.objects.get_or_create(
        participation=participation,
        mentor=mentor,
        defaults={"focus": require_text(focus, field="focus", max_length=200, blank=True)},
    )
    if not created:
        raise Conflict("this mentor is already assigned", field="mentor_id")
    return assignment


@transaction.atomic
def demo_day_schedule(
    *,
    actor: User,
    cohort: Cohort,
    held_at: dt.datetime,
    venue: str = "",
    investors: Iterable[User] = (),
) -> DemoDay:
    """Schedule (or move) the cohort's demo day and invite investors (investor role only)."""
    require_staff(actor, "schedule demo days")
    if not isinstance(held_at, dt.datetime) or timezone.is_naive(held_at):
        raise ValidationError("must be a date and time with a time zone", field="held_at")
    invited = list(investors)
    for i, user in enumerate(invited):
        if not has_role(user, Role.INVESTOR):
            raise ValidationError(f"{user.email} is not an investor", field=f"investors[{i}]")
    demo_day, _ = DemoDay.objects.update_or_create(
        cohort=cohort,
        defaults={
            "held_at": held_at,
            "venue": require_text(venue, field="venue", max_length=NAME_MAX, blank=True),
        },
    )
    demo_day.investors.add(*invited)
    return demo_day


def _incubation(programme: Programme | None) -> Programme:
    if programme is not None:
        if programme.kind != ProgrammeKind.INCUBATION:
            raise ValidationError(
                "graduation leads to an incubation programme", field="programme_id"
            )
        return programme
    found = Programme.objects.filter(kind=ProgrammeKind.INCUBATION).order_by("pk").first()
    if found is None:
        raise ValidationError(
            "there is no incubation programme to graduate into", field="programme_id"
        )
    return found


@transaction.atomic
def participation_graduate(
    *,
    actor: User,
    participation: Participation,
    on: dt.date | None = None,
    incubation: Programme | None = None,
) -> Participation:
    """The team graduates and starts a participation in the incubation programme."""
    require_staff(actor, "graduate teams")
    participation = Participation.objects.select_for_update(of=("self",)).get(pk=participation.pk)
    PARTICIPATION_TRANSITIONS.check(participation.status, ParticipationStatus.GRADUATED)
    programme = _incubation(incubation)
    on = on or timezone.localdate()
    participation.status = ParticipationStatus.GRADUATED
    participation.ended_on = on
    participation.save(update_fields=["status", "ended_on", "updated_at"])
    return Participation.objects.create(
        programme=programme,
        organisation=participation.organisation,
        previous=participation,
        starts_on=on,
        ends_on=add_months(on, programme.duration_months),
        holding=participation.holding,
        note=f"graduated from {participation.programme.name}",
    )


@transaction.atomic
def participation_withdraw(
    *, actor: User, participation: Participation, reason: str, on: dt.date | None = None
) -> Participation:
    """The team leaves (its founders or lab staff); its check-ins stop being due."""
    if not manages_organisation(actor, participation.organisation_id):
        raise PermissionDenied("only the team's founders or lab staff may withdraw it")
    participation = Participation.objects.select_for_update(of=("self",)).get(pk=participation.pk)
    PARTICIPATION_TRANSITIONS.check(participation.status, ParticipationStatus.WITHDRAWN)
    participation.status = ParticipationStatus.WITHDRAWN
    participation.ended_on = on or timezone.localdate()
    participation.note = require_text(reason, field="reason", max_length=500)
    participation.save(update_fields=["status", "ended_on", "note", "updated_at"])
    participation.check_ins.filter(reported_at__isnull=True).delete()
    return participation
