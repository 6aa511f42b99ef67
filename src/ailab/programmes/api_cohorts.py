"""/api/v1 cohorts: cohorts, participations, milestones, check-ins, mentors, demo days.

Investors see cohorts with a demo day (graduating cohorts) and the demo days themselves.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from ailab.accounts.models import User
from ailab.accounts.selectors import user_by_id
from ailab.programmes import selectors, services
from ailab.programmes.models import Cohort, Participation

router = Router(tags=["programmes"])


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


class MilestoneOut(Schema):
    id: int
    title: str
    due_on: dt.date
    description: str


class DemoDayOut(Schema):
    id: int
    cohort_id: int
    held_at: dt.datetime
    venue: str
    investor_ids: list[int] = Field(default_factory=list)

    @staticmethod
    def resolve_investor_ids(obj: Any) -> list[int]:
        return [u.pk for u in obj.investors.all()]


class ParticipationOut(Schema):
    id: int
    programme_id: int
    programme_name: str = Field(..., alias="programme.name")
    cohort_id: int | None
    organisation_id: int
    organisation_name: str = Field(..., alias="organisation.name")
    status: str
    starts_on: dt.date
    ends_on: dt.date
    ended_on: dt.date | None
    previous_id: int | None
    allocation_id: int | None


class CheckInOut(Schema):
    id: int
    month: int
    due_on: dt.date
    summary: str
    reported_by_id: int | None
    reported_at: dt.datetime | None
    is_overdue: bool


class MentorOut(Schema):
    id: int
    mentor_id: int
    focus: str


class ParticipationDetailOut(ParticipationOut):
    check_ins: list[CheckInOut] = Field(default_factory=list)
    mentors: list[MentorOut] = Field(default_factory=list)


class CohortOut(Schema):
    id: int
    intake_id: int
    name: str
    starts_on: dt.date
    ends_on: dt.date
    milestones: list[MilestoneOut] = Field(default_factory=list)
    participations: list[ParticipationOut] = Field(default_factory=list)
    demo_day: DemoDayOut | None = None

    @staticmethod
    def resolve_milestones(obj: Cohort) -> list[Any]:
        return list(obj.milestones.all())

    @staticmethod
    def resolve_participations(obj: Cohort) -> list[Any]:
        return list(obj.participations.select_related("programme", "organisation"))

    @staticmethod
    def resolve_demo_day(obj: Cohort) -> Any:
        return getattr(obj, "demo_day", None)


class MilestoneIn(Schema):
    title: str
    due_on: dt.date
    description: str = ""


class DemoDayIn(Schema):
    held_at: dt.datetime
    venue: str = ""
    investor_ids: list[int] = Field(default_factory=list)


class MentorIn(Schema):
    mentor_id: int
    focus: str = ""


class GraduateIn(Schema):
    on: dt.date | None = None
    programme_id: int | None = None


class WithdrawIn(Schema):
    reason: str
    on: dt.date | None = None


class CheckInIn(Schema):
    summary: str


def _detail(p: Participation, *, private: bool) -> ParticipationDetailOut:
    detail = ParticipationDetailOut.from_orm(p)
    if not private:
        detail.check_ins, detail.mentors = [], []
    return detail


@router.get("/cohorts", response=list[CohortOut])
def cohort_list(request: HttpRequest) -> Any:
    return selectors.cohort_list_visible_to(_user(request))


@router.get("/cohorts/{cohort_id}", response=CohortOut)
def cohort_detail(request: HttpRequest, cohort_id: int) -> Any:
    return selectors.access_cohort(_user(request), cohort_id)


@router.post("/cohorts/{cohort_id}/milestones", response={201: MilestoneOut})
def milestone_create(request: HttpRequest, cohort_id: int, payload: MilestoneIn) -> Any:
    actor = _user(request)
    cohort = selectors.access_cohort(actor, cohort_id, selectors.CHANGE)
    return Status(201, services.milestone_add(actor=actor, cohort=cohort, **payload.dict()))


@router.put("/cohorts/{cohort_id}/demo-day", response=DemoDayOut)
def demo_day_put(request: HttpRequest, cohort_id: int, payload: DemoDayIn) -> Any:
    actor = _user(request)
    cohort = selectors.access_cohort(actor, cohort_id, selectors.CHANGE)
    return services.demo_day_schedule(
        actor=actor,
        cohort=cohort,
        held_at=payload.held_at,
        venue=payload.venue,
        investors=[user_by_id(i) for i in payload.investor_ids],
    )


@router.get("/demo-days/{demo_day_id}", response=DemoDayOut)
def demo_day_detail(request: HttpRequest, demo_day_id: int) -> Any:
    return selectors.access_demo_day(_user(request), demo_day_id)


@router.get("/participations", response=list[ParticipationOut])
def participation_list(request: HttpRequest) -> Any:
    return selectors.participation_list_visible_to(_user(request))


@router.get("/participations/{participation_id}", response=ParticipationDetailOut)
def participation_detail(request: HttpRequest, participation_id: int) -> Any:
    actor = _user(request)
    p = selectors.access_participation(actor, participation_id)
    # Investors see the team, not its check-ins or mentors.
    return _detail(p, private=selectors.participation_private_visible(actor, p))


@router.post("/participations/{participation_id}/mentors", response={201: MentorOut})
def mentor_create(request: HttpRequest, participation_id: int, payload: MentorIn) -> Any:
    actor = _user(request)
    p = selectors.access_participation(actor, participation_id)
    return Status(
        201,
        services.mentor_assign(
            actor=actor, participation=p, mentor=user_by_id(payload.mentor_id), focus=payload.focus
        ),
    )


@router.post("/participations/{participation_id}/graduate", response={201: ParticipationOut})
def participation_graduate(request: HttpRequest, participation_id: int, payload: GraduateIn) -> Any:
    actor = _user(request)
    p = selectors.access_participation(actor, participation_id, selectors.CHANGE)
    programme = (
        selectors.access_programme(actor, payload.programme_id) if payload.programme_id else None
    )
    return Status(
        201,
        services.participation_graduate(
            actor=actor, participation=p, on=payload.on, incubation=programme
        ),
    )


@router.post("/participations/{participation_id}/withdraw", response=ParticipationOut)
def participation_withdraw(request: HttpRequest, participation_id: int, payload: WithdrawIn) -> Any:
    actor = _user(request)
    p = selectors.access_participation(actor, participation_id, selectors.CHANGE)
    return services.participation_withdraw(
        actor=actor, participation=p, reason=payload.reason, on=payload.on
    )


@router.post("/check-ins/{check_in_id}/report", response=CheckInOut)
def check_in_report(request: HttpRequest, check_in_id: int, payload: CheckInIn) -> Any:
    actor = _user(request)
    check_in = selectors.access_check_in(actor, check_in_id, selectors.CHANGE)
    return services.check_in_report(actor=actor, check_in=check_in, summary=payload.summary)
