"""API schemas for programmes (shared by the routers in api*.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ninja import Field, Schema


class ProgrammeOut(Schema):
    id: int
    name: str
    kind: str
    description: str
    duration_months: int


class ProgrammeIn(Schema):
    name: str
    kind: str
    description: str = ""
    duration_months: int = 6


class CriterionOut(Schema):
    id: int
    name: str
    description: str
    weight: Decimal
    scale_min: int
    scale_max: int


class QuestionOut(Schema):
    id: int
    text: str
    required: bool
    max_length: int


class IntakeOut(Schema):
    id: int
    programme_id: int
    programme_name: str = Field(..., alias="programme.name")
    title: str
    call_text: str
    opens_at: dt.datetime
    closes_at: dt.datetime
    state: str
    capacity_min: int
    capacity_max: int
    fund_id: int | None
    funding_amount: Decimal
    funding_currency: str
    equity_pct: Decimal
    gpu_hours: int
    duration_months: int
    eligibility: list[dict[str, Any]]
    criteria: list[CriterionOut] = Field(default_factory=list)
    questions: list[QuestionOut] = Field(default_factory=list)

    @staticmethod
    def resolve_criteria(obj: Any) -> list[Any]:
        return list(obj.criteria.all())

    @staticmethod
    def resolve_questions(obj: Any) -> list[Any]:
        return list(obj.questions.all())


class CriterionIn(Schema):
    name: str
    description: str = ""
    weight: Decimal = Decimal("1")
    scale_min: int = 1
    scale_max: int = 5


class QuestionIn(Schema):
    text: str
    required: bool = True
    max_length: int = 3000


class IntakeIn(Schema):
    programme_id: int
    title: str
    call_text: str
    opens_at: dt.datetime
    closes_at: dt.datetime
    capacity_min: int = 6
    capacity_max: int = 10
    fund_id: int | None = None
    funding_amount: Decimal = Decimal("0")
    funding_currency: str = "USD"
    funding_fx_rate: Decimal | None = None
    equity_pct: Decimal = Decimal("0")
    gpu_hours: int = 0
    duration_months: int = 6
    eligibility: list[dict[str, Any]] = Field(default_factory=list)
    criteria: list[CriterionIn] = Field(default_factory=list)
    questions: list[QuestionIn] = Field(default_factory=list)


class TeamMemberIO(Schema):
    name: str
    email: str = ""
    role: str = ""


class AttachmentOut(Schema):
    id: int
    original_name: str
    size: int
    sha256: str
    created_at: dt.datetime


class ApplicationOut(Schema):
    id: int
    intake_id: int
    organisation_id: int
    organisation_name: str = Field(..., alias="organisation.name")
    status: str
    answers: dict[str, str]
    team: list[TeamMemberIO] = Field(default_factory=list)
    gpu_hours_requested: int
    compute_justification: str
    submitted_at: dt.datetime | None
    decided_at: dt.datetime | None
    decision_message: str
    attachments: list[AttachmentOut] = Field(default_factory=list)

    @staticmethod
    def resolve_team(obj: Any) -> list[Any]:
        return list(obj.team.all())

    @staticmethod
    def resolve_attachments(obj: Any) -> list[Any]:
        return list(obj.attachments.all())


class ApplicationIn(Schema):
    intake_id: int
    organisation_id: int
    answers: dict[str, str] = Field(default_factory=dict)
    team: list[TeamMemberIO] = Field(default_factory=list)
    gpu_hours_requested: int = 0
    compute_justification: str = ""


class ApplicationPatch(Schema):
    answers: dict[str, str] | None = None
    team: list[TeamMemberIO] | None = None
    gpu_hours_requested: int | None = None
    compute_justification: str | None = None


class AssignmentOut(Schema):
    id: int
    application_id: int
    reviewer_id: int
    organisation_name: str = Field(..., alias="application.organisation.name")
    intake_id: int = Field(..., alias="application.intake_id")
    reviewed: bool

    @staticmethod
    def resolve_reviewed(obj: Any) -> bool:
        return hasattr(obj, "review")


class AssignIn(Schema):
    reviewer_id: int


class AutoAssignIn(Schema):
    per_application: int = 3
    max_per_reviewer: int = 10


class AutoAssignOut(Schema):
    created: int
    shortfall: dict[int, int]
    load: dict[int, int]


class ReviewIn(Schema):
    scores: dict[str, int]
    confidence: int
    comments: str = ""


class ScoreOut(Schema):
    criterion: str = Field(..., alias="criterion.name")
    score: int


class ReviewOut(Schema):
    id: int
    assignment_id: int
    reviewer_id: int = Field(..., alias="assignment.reviewer_id")
    confidence: int
    comments: str
    submitted_at: dt.datetime
    scores: list[ScoreOut] = Field(default_factory=list)

    @staticmethod
    def resolve_scores(obj: Any) -> list[Any]:
        return list(obj.scores.all())


class ConflictIn(Schema):
    organisation_id: int
    reason: str


class RankOut(Schema):
    rank: int
    application_id: int
    organisation_name: str
    status: str
    score: float | None
    raw_mean: float | None
    reviews_submitted: int
    reviews_assigned: int
    missing: int
    tied: bool
    notes: list[str]


class SelectionIn(Schema):
    accept: list[int]
    waitlist: list[int] = Field(default_factory=list)
    reject_rest: bool = False
    message: str = Field("", description="The acceptance message (default: a standard one).")
    messages: dict[str, str] | None = Field(
        None,
        description="Per outcome (accepted, waitlisted, rejected); {org} and {intake} "
        "are filled in.",
    )


class AwardIn(Schema):
    on: dt.date | None = None
