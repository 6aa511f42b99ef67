"""/api/v1 programmes: calls, applications, attachments, review, selection, awards.

Cohort endpoints live in ``api_cohorts``. Endpoints only translate (DESIGN.md rule 1).
"""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, HttpRequest
from ninja import File, Router, Status
from ninja.files import UploadedFile

from ailab.accounts.models import User
from ailab.accounts.selectors import access_organisation, user_by_id
from ailab.programmes import selectors, services
from ailab.programmes.api_cohorts import router as cohorts_router
from ailab.programmes.downloads import attachment_response
from ailab.programmes.schemas import (
    ApplicationIn,
    ApplicationOut,
    ApplicationPatch,
    AssignIn,
    AssignmentOut,
    AttachmentOut,
    AutoAssignIn,
    AutoAssignOut,
    AwardIn,
    ConflictIn,
    IntakeIn,
    IntakeOut,
    ProgrammeIn,
    ProgrammeOut,
    RankOut,
    ReviewIn,
    ReviewOut,
    SelectionIn,
)

router = Router(tags=["programmes"])
router.add_router("", cohorts_router)


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


# Programmes and calls (public reads) -------------------------------------------


@router.get("/programmes", response=list[ProgrammeOut], auth=None)
def programme_list(request: HttpRequest) -> Any:
    return selectors.programme_list()


@router.post("/programmes", response={201: ProgrammeOut})
def programme_create(request: HttpRequest, payload: ProgrammeIn) -> Any:
    return Status(201, services.programme_create(actor=_user(request), **payload.dict()))


@router.get("/intakes", response=list[IntakeOut], auth=None, summary="Calls (public)")
def intake_list(request: HttpRequest, open: bool = False) -> Any:
    qs = selectors.intake_list_open() if open else selectors.intake_list_public()
    return qs.prefetch_related("criteria", "questions")


@router.get("/intakes/{intake_id}", response=IntakeOut, auth=None)
def intake_detail(request: HttpRequest, intake_id: int) -> Any:
    return selectors.access_intake(request.user, intake_id)  # type: ignore[arg-type]


@router.post("/intakes", response={201: IntakeOut})
def intake_create(request: HttpRequest, payload: IntakeIn) -> Any:
    actor = _user(request)
    programme = selectors.access_programme(actor, payload.programme_id)
    data = payload.dict()
    terms = {
        k: data.pop(k)
        for k in (
            "funding_amount",
            "funding_currency",
            "funding_fx_rate",
            "equity_pct",
            "gpu_hours",
            "duration_months",
        )
    }
    intake = services.intake_create(
        actor=actor,
        programme=programme,
        title=data["title"],
        call_text=data["call_text"],
        opens_at=data["opens_at"],
        closes_at=data["closes_at"],
        capacity_min=data["capacity_min"],
        capacity_max=data["capacity_max"],
        terms=terms,
        fund_id=data["fund_id"],
        eligibility_rules=data["eligibility"],
        criteria=data["criteria"],
        questions=data["questions"],
    )
    return Status(201, intake)


# Applications --------------------------------------------------------------------


@router.get("/applications", response=list[ApplicationOut])
def application_list(request: HttpRequest, intake_id: int | None = None) -> Any:
    qs = selectors.application_list_visible_to(_user(request), intake_id=intake_id)
    return qs.prefetch_related("team", "attachments")


@router.post("/applications", response={201: ApplicationOut})
def application_create(request: HttpRequest, payload: ApplicationIn) -> Any:
    actor = _user(request)
    intake = selectors.access_intake(actor, payload.intake_id)
    org = access_organisation(actor, payload.organisation_id)
    return Status(
        201,
        services.application_create(
            actor=actor,
            intake=intake,
            organisation=org,
            answers=payload.answers,
            team=[t.dict() for t in payload.team],
            gpu_hours_requested=payload.gpu_hours_requested,
            compute_justification=payload.compute_justification,
        ),
    )


@router.get("/applications/{application_id}", response=ApplicationOut)
def application_detail(request: HttpRequest, application_id: int) -> Any:
    return selectors.access_application(_user(request), application_id)


@router.patch("/applications/{application_id}", response=ApplicationOut)
def application_update(request: HttpRequest, application_id: int, payload: ApplicationPatch) -> Any:
    actor = _user(request)
    app = selectors.access_application(actor, application_id, selectors.CHANGE)
    data = payload.dict(exclude_unset=True)
    if "team" in data and data["team"] is not None:
        data["team"] = [dict(t) for t in data["team"]]
    return services.application_update(actor=actor, application=app, **data)


@router.post("/applications/{application_id}/submit", response=ApplicationOut)
def application_submit(request: HttpRequest, application_id: int) -> Any:
    actor = _user(request)
    app = selectors.access_application(actor, application_id, selectors.CHANGE)
    return services.application_submit(actor=actor, application=app)


@router.post("/applications/{application_id}/withdraw", response=ApplicationOut)
def application_withdraw(request: HttpRequest, application_id: int) -> Any:
    actor = _user(request)
    app = selectors.access_application(actor, application_id, selectors.CHANGE)
    return services.application_withdraw(actor=actor, application=app)


@router.post("/applications/{application_id}/attachments", response={201: AttachmentOut})
def attachment_create(request: HttpRequest, application_id: int, file: File[UploadedFile]) -> Any:
    """Upload a PDF (multipart field ``file``): checked by content and size."""
    actor = _user(request)
    app = selectors.access_application(actor, application_id, selectors.CHANGE)
    return Status(201, services.attachment_add(actor=actor, application=app, upload=file))


@router.get("/attachments/{attachment_id}/download", response={200: None})
def attachment_download(request: HttpRequest, attachment_id: int) -> FileResponse:
    """The PDF as a download (Content-Disposition: attachment), to permitted users only."""
    return attachment_response(selectors.access_attachment(_user(request), attachment_id))


# Review -------------------------------------------------------------------------------


@router.get("/assignments", response=list[AssignmentOut], summary="My review assignments")
def assignment_list(request: HttpRequest) -> Any:
    return selectors.assignment_list_for(_user(request))


@router.post("/applications/{application_id}/assignments", response={201: AssignmentOut})
def assignment_create(request: HttpRequest, application_id: int, payload: AssignIn) -> Any:
    actor = _user(request)
    app = selectors.access_application(actor, application_id)
    reviewer = user_by_id(payload.reviewer_id)
    return Status(201, services.review_assign(actor=actor, application=app, reviewer=reviewer))


@router.post("/intakes/{intake_id}/assignments/auto", response=AutoAssignOut)
def assignment_auto(request: HttpRequest, intake_id: int, payload: AutoAssignIn) -> Any:
    actor = _user(request)
    intake = selectors.access_intake(actor, intake_id, selectors.CHANGE)
    result = services.review_auto_assign(actor=actor, intake=intake, **payload.dict())
    return AutoAssignOut(created=len(result.created), shortfall=result.shortfall, load=result.load)


@router.post("/assignments/{assignment_id}/review", response={201: ReviewOut})
def review_create(request: HttpRequest, assignment_id: int, payload: ReviewIn) -> Any:
    actor = _user(request)
    assignment = selectors.access_assignment(actor, assignment_id)
    return Status(201, services.review_submit(actor=actor, assignment=assignment, **payload.dict()))


@router.get("/applications/{application_id}/reviews", response=list[ReviewOut])
def review_list(request: HttpRequest, application_id: int) -> Any:
    actor = _user(request)
    app = selectors.access_application(actor, application_id)
    return selectors.review_list_visible_to(actor, application=app)


@router.post("/conflicts", response={201: dict[str, Any]}, summary="Declare a conflict")
def conflict_create(request: HttpRequest, payload: ConflictIn) -> Any:
    actor = _user(request)
    org = access_organisation(actor, payload.organisation_id)
    c = services.conflict_declare(actor=actor, organisation=org, reason=payload.reason)
    return Status(201, {"id": c.pk, "organisation_id": org.pk, "reason": c.reason})


# Ranking, selection, awards (staff) -------------------------------------------------


@router.get("/intakes/{intake_id}/ranking", response=list[RankOut])
def ranking(request: HttpRequest, intake_id: int) -> Any:
    intake = selectors.access_intake(_user(request), intake_id, selectors.CHANGE)
    return [
        RankOut(
            rank=r.rank,
            application_id=r.application.pk,
            organisation_name=r.application.organisation.name,
            status=r.application.status,
            score=r.score,
            raw_mean=r.raw_mean,
            reviews_submitted=r.reviews_submitted,
            reviews_assigned=r.reviews_assigned,
            missing=r.missing,
            tied=r.tied,
            notes=r.notes,
        )
        for r in selectors.intake_ranking(intake=intake)
    ]


@router.post("/intakes/{intake_id}/selection", response=dict[str, list[int]])
def selection(request: HttpRequest, intake_id: int, payload: SelectionIn) -> Any:
    actor = _user(request)
    intake = selectors.access_intake(actor, intake_id, selectors.CHANGE)
    return services.selection_decide(actor=actor, intake=intake, **payload.dict())


@router.post("/intakes/{intake_id}/awards", response={201: list[dict[str, Any]]})
def awards(request: HttpRequest, intake_id: int, payload: AwardIn) -> Any:
    """Grant every accepted application's award not granted yet, in one transaction."""
    actor = _user(request)
    intake = selectors.access_intake(actor, intake_id, selectors.CHANGE)
    granted = services.awards_grant(actor=actor, intake=intake, on=payload.on)
    return Status(201, [_award_out(p) for p in granted])


def _award_out(p: Any) -> dict[str, Any]:
    return {
        "participation_id": p.pk,
        "application_id": p.application_id,
        "cohort_id": p.cohort_id,
        "holding_id": p.holding_id,
        "allocation_id": p.allocation_id,
    }


@router.post("/applications/{application_id}/award", response={201: dict[str, Any]})
def award(request: HttpRequest, application_id: int, payload: AwardIn) -> Any:
    actor = _user(request)
    app = selectors.access_application(actor, application_id)
    p = services.award_grant(actor=actor, application=app, on=payload.on)
    return Status(201, _award_out(p))
