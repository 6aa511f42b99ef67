"""Review: assignments (by staff, or balanced automatically), conflicts, scored reviews."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from ailab.accounts.models import Organisation, User
from ailab.common.errors import Conflict, InvalidTransition, PermissionDenied, ValidationError
from ailab.common.validation import require_text
from ailab.programmes.models import (
    Application,
    ApplicationStatus,
    ConflictDeclaration,
    CriterionScore,
    Intake,
    Review,
    ReviewAssignment,
    application_transition,
)
from ailab.programmes.selectors.conflicts import conflict_map, conflict_reason, reviewer_pool
from ailab.programmes.services._common import int_of, require_staff

REVIEWABLE = (ApplicationStatus.SUBMITTED, ApplicationStatus.UNDER_REVIEW)


def _to_under_review(application: Application) -> None:
    if application.status == ApplicationStatus.SUBMITTED:
        application_transition(
            application, ApplicationStatus.UNDER_REVIEW, expect=ApplicationStatus.SUBMITTED
        )


@transaction.atomic
def review_assign(*, actor: User, application: Application, reviewer: User) -> ReviewAssignment:
    """Staff assign a reviewer; refused (Conflict) when the reviewer has a conflict of interest."""
    require_staff(actor, "assign reviewers")
    application = Application.objects.select_for_update(of=("self",)).get(pk=application.pk)
    if application.status not in REVIEWABLE:
        raise InvalidTransition(f"the application is {application.status}", field="application_id")
    reason = conflict_reason(reviewer, application.organisation_id)
    if reason:
        raise Conflict(
            f"{reviewer.email} has a conflict of interest: {reason}", field="reviewer_id"
        )
    assignment, created = ReviewAssignment.objects.get_or_create(
        application=application, reviewer=reviewer, defaults={"assigned_by": actor}
    )
    if not created:
        raise Conflict("this reviewer is already assigned", field="reviewer_id")
    _to_under_review(application)
    return assignment


@dataclass
class AutoAssignResult:
    created: list[ReviewAssignment] = field(default_factory=list)
    # application id -> how many reviewers it still lacks (shown to staff, never hidden)
    shortfall: dict[int, int] = field(default_factory=dict)
    load: dict[int, int] = field(default_factory=dict)


@transaction.atomic
def review_auto_assign(
    *,
    actor: User,
    intake: Intake,
    per_application: int = 3,
    max_per_reviewer: int = 10,
    reviewers: Iterable[User] | None = None,
) -> AutoAssignResult:
    """Give each reviewable application ``per_application`` reviewers, none with more than
    ``max_per_reviewer`` (existing assignments count), never one with a conflict.

    Greedy, most-constrained application first, least-loaded reviewer first (ties by id),
    so the result is deterministic. Applications left short are reported in ``shortfall``.
    """
    require_staff(actor, "assign reviewers")
    k = int_of(per_application, field="per_application", low=1, high=20)
    m = int_of(max_per_reviewer, field="max_per_reviewer", low=1, high=1000)
    pool = sorted(reviewers if reviewers is not None else reviewer_pool(), key=lambda u: u.pk)
    if not pool:
        raise ValidationError("no reviewers to assign", field="reviewers")
    apps = list(
        Application.objects.select_for_update(of=("self",)).filter(
            intake=intake, status__in=REVIEWABLE
        )
    )
    existing = ReviewAssignment.objects.filter(application__intake=intake)
    load = Counter(a.reviewer_id for a in existing)
    have: dict[int, set[int]] = {a.pk: set() for a in apps}
    for a in existing:
        if a.application_id in have:
            have[a.application_id].add(a.reviewer_id)
    conflicts = conflict_map(pool, [a.organisation_id for a in apps])
    eligible = {a.pk: [r for r in pool if (r.pk, a.organisation_id) not in conflicts] for a in apps}
    result = AutoAssignResult()
    for app in sorted(apps, key=lambda a: (len(eligible[a.pk]), a.pk)):
        need = k - len(have[app.pk])
        candidates = [r for r in eligible[app.pk] if r.pk not in have[app.pk] and load[r.pk] < m]
        candidates.sort(key=lambda r: (load[r.pk], r.pk))
        for reviewer in candidates[: max(need, 0)]:
            result.created.append(
                ReviewAssignment.objects.create(
                    application=app, reviewer=reviewer, assigned_by=actor
                )
            )
            load[reviewer.pk] += 1
            have[app.pk].add(reviewer.pk)
        if len(have[app.pk]) < k:
            result.shortfall[app.pk] = k - len(have[app.pk])
        if have[app.pk]:
            _to_under_review(app)
    result.load = dict(load)
    return result


@transaction.atomic
def conflict_declare(
    *, actor: User, organisation: Organisation, reason: str
) -> ConflictDeclaration:
    """A reviewer declares a conflict; their open assignments for it stop being visible."""
    declaration, _ = ConflictDeclaration.objects.update_or_create(
        reviewer=actor,
        organisation=organisation,
        defaults={"reason": require_text(reason, field="reason", max_length=500)},
    )
    return declaration


def _clean_scores(assignment: ReviewAssignment, scores: Mapping[Any, Any]) -> dict[int, int]:
    criteria = list(assignment.application.intake.criteria.all())
    by_key = {str(c.pk): c for c in criteria} | {c.name: c for c in criteria}
    cleaned: dict[int, int] = {}
    for key, value in scores.items():
        criterion = by_key.get(str(key))
        if criterion is None:
            raise ValidationError(
                "no such criterion in this intake's rubric", field=f"scores.{key}"
            )
        cleaned[criterion.pk] = int_of(
            value,
            field=f"scores.{criterion.name}",
            low=criterion.scale_min,
            high=criterion.scale_max,
        )
    missing = [c for c in criteria if c.pk not in cleaned]
    if missing:
        raise ValidationError(
            errors=[(f"scores.{c.name}", "score every criterion") for c in missing]
        )
    return cleaned


@transaction.atomic
def review_submit(
    *,
    actor: User,
    assignment: ReviewAssignment,
    scores: Mapping[Any, Any],
    confidence: int,
    comments: str = "",
) -> Review:
    """The assigned reviewer scores every criterion on its scale; one review, then final."""
    assignment = (
        ReviewAssignment.objects.select_for_update(of=("self",))
        .select_related("application__intake")
        .get(pk=assignment.pk)
    )
    if assignment.reviewer_id != actor.pk:
        raise PermissionDenied("only the assigned reviewer may review")
    reason = conflict_reason(actor, assignment.application.organisation_id)
    if reason:
        raise PermissionDenied(f"you have a conflict of interest: {reason}")
    if assignment.application.status not in (ApplicationStatus.UNDER_REVIEW, "shortlisted"):
        raise InvalidTransition(
            f"the application is {assignment.application.status}", field="status"
        )
    if Review.objects.filter(assignment=assignment).exists():
        raise Conflict("you have already submitted this review", field="assignment_id")
    cleaned = _clean_scores(assignment, scores)
    review = Review.objects.create(
        assignment=assignment,
        confidence=int_of(confidence, field="confidence", low=1, high=5),
        comments=require_text(comments, field="comments", max_length=5000, blank=True),
        submitted_at=timezone.now(),
    )
    CriterionScore.objects.bulk_create(
        CriterionScore(review=review, criterion_id=cid, score=s) for cid, s in cleaned.items()
    )
    return review
