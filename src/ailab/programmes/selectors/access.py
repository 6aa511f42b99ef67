"""access_<entity>: every fetch on a user's behalf goes through one of these (DESIGN.md rule 3).

Who sees what:
- intakes and programmes are public (the calls);
- an application: lab staff, members of the applicant, and assigned reviewers without a
  conflict of interest; to anyone else it does not exist (404, not 403);
- reviews: lab staff; a reviewer sees their own, and others' only after submitting theirs;
- cohorts, participations, demo days: lab staff, the participants, their mentors, and
  investors (cohorts with a demo day: graduating cohorts). Investors never see applications.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from ailab.accounts.models import Role, User
from ailab.accounts.roles import has_role, is_lab_staff, is_member_of
from ailab.common.errors import NotAuthenticated, NotFound, PermissionDenied
from ailab.programmes.models import (
    Application,
    Attachment,
    CheckIn,
    Cohort,
    DemoDay,
    Intake,
    Participation,
    Programme,
    Review,
    ReviewAssignment,
)
from ailab.programmes.selectors.conflicts import conflict_map, conflict_reason

VIEW = "view"
CHANGE = "change"


def _require_user(user: User) -> None:
    if not user.is_authenticated or not user.is_active:
        raise NotAuthenticated("authentication required")


# Programmes and intakes: public ---------------------------------------------


def access_programme(user: User, programme_id: int, action: str = VIEW) -> Programme:
    if action == CHANGE:
        _require_user(user)
    programme = Programme.objects.filter(pk=programme_id).first()
    if programme is None:
        raise NotFound("no such programme", field="programme_id")
    if action == CHANGE and not is_lab_staff(user):
        raise PermissionDenied("only lab staff may change programmes")
    return programme


def access_intake(user: User, intake_id: int, action: str = VIEW) -> Intake:
    """Calls are public; changing one, or its pipeline, needs lab staff."""
    intake = Intake.objects.select_related("programme").filter(pk=intake_id).first()
    if intake is None:
        raise NotFound("no such intake", field="intake_id")
    if action == CHANGE:
        _require_user(user)
        if not is_lab_staff(user):
            raise PermissionDenied("only lab staff may manage intakes")
    return intake


# Applications -----------------------------------------------------------------


def application_list_visible_to(
    user: User, *, intake_id: int | None = None
) -> QuerySet[Application]:
    """Staff: all. Others: their organisations' applications, and unconflicted assignments."""
    _require_user(user)
    qs = Application.objects.select_related("intake", "organisation")
    if intake_id is not None:
        qs = qs.filter(intake_id=intake_id)
    if is_lab_staff(user):
        return qs
    assigned = list(qs.filter(assignments__reviewer=user).values_list("pk", "organisation_id"))
    conflicts = conflict_map([user], {oid for _, oid in assigned})
    visible = [pk for pk, oid in assigned if (user.pk, oid) not in conflicts]
    return qs.filter(Q(organisation__memberships__user=user) | Q(pk__in=visible)).distinct()


def access_application(user: User, application_id: int, action: str = VIEW) -> Application:
    """VIEW: staff, the applicant's members, assigned unconflicted reviewers.
    CHANGE: staff and the applicant's members (services check founders and states)."""
    _require_user(user)
    app = (
        Application.objects.select_related("intake__programme", "organisation")
        .filter(pk=application_id)
        .first()
    )
    if app is None:
        raise NotFound("no such application", field="application_id")
    if is_lab_staff(user) or is_member_of(user, app.organisation_id):
        return app
    if (
        action == VIEW
        and app.assignments.filter(reviewer=user).exists()
        and conflict_reason(user, app.organisation_id) is None
    ):
        return app
    raise NotFound("no such application", field="application_id")


def access_attachment(user: User, attachment_id: int) -> Attachment:
    """An attachment is visible exactly when its application is."""
    _require_user(user)
    attachment = Attachment.objects.filter(pk=attachment_id).first()
    if attachment is None:
        raise NotFound("no such attachment", field="attachment_id")
    access_application(user, attachment.application_id)
    return attachment


# Review ---------------------------------------------------------------------------


def assignment_list_for(user: User) -> QuerySet[ReviewAssignment]:
    """The reviewer's own assignments, without conflicted ones."""
    _require_user(user)
    qs = ReviewAssignment.objects.filter(reviewer=user).select_related(
        "application__organisation", "application__intake", "review"
    )
    conflicts = conflict_map([user], set(qs.values_list("application__organisation_id", flat=True)))
    hidden = [oid for (_, oid) in conflicts]
    return qs.exclude(application__organisation_id__in=hidden)


def access_assignment(user: User, assignment_id: int) -> ReviewAssignment:
    """The assigned reviewer (unless conflicted) and lab staff."""
    _require_user(user)
    assignment = (
        ReviewAssignment.objects.select_related("application__intake", "application__organisation")
        .filter(pk=assignment_id)
        .first()
    )
    if assignment is None:
        raise NotFound("no such assignment", field="assignment_id")
    if is_lab_staff(user):
        return assignment
    if assignment.reviewer_id != user.pk or conflict_reason(
        user, assignment.application.organisation_id
    ):
        raise NotFound("no such assignment", field="assignment_id")
    return assignment


def review_list_visible_to(user: User, *, application: Application) -> QuerySet[Review]:
    """Staff see every review. A reviewer sees their own, and the others' once theirs is in.
    Applicants and everyone else see none (PermissionDenied)."""
    _require_user(user)
    qs = (
        Review.objects.filter(assignment__application=application)
        .select_related("assignment__reviewer")
        .prefetch_related("scores__criterion")
    )
    if is_lab_staff(user):
        return qs
    mine = ReviewAssignment.objects.filter(application=application, reviewer=user).first()
    if mine is None or conflict_reason(user, application.organisation_id):
        raise PermissionDenied("only lab staff and the application's reviewers see reviews")
    if not Review.objects.filter(assignment=mine).exists():
        return qs.filter(assignment=mine)
    return qs


def access_review(user: User, review_id: int) -> Review:
    _require_user(user)
    review = Review.objects.select_related("assignment__application").filter(pk=review_id).first()
    if review is None:
        raise NotFound("no such review", field="review_id")
    try:
        visible = review_list_visible_to(user, application=review.assignment.application)
    except PermissionDenied as exc:
        raise NotFound("no such review", field="review_id") from exc
    if not visible.filter(pk=review.pk).exists():
        raise NotFound("no such review", field="review_id")
    return review


# Cohorts --------------------------------------------------------------------------


def _is_investor(user: User) -> bool:
    return has_role(user, Role.INVESTOR)


def cohort_list_visible_to(user: User) -> QuerySet[Cohort]:
    _require_user(user)
    qs = Cohort.objects.select_related("intake__programme")
    if is_lab_staff(user):
        return qs
    own = Q(participations__organisation__memberships__user=user) | Q(
        participations__mentors__mentor=user
    )
    if _is_investor(user):
        own |= Q(demo_day__isnull=False)
    return qs.filter(own).distinct()


def access_cohort(user: User, cohort_id: int, action: str = VIEW) -> Cohort:
    cohort = cohort_list_visible_to(user).filter(pk=cohort_id).first()
    if cohort is None:
        raise NotFound("no such cohort", field="cohort_id")
    if action == CHANGE and not is_lab_staff(user):
        raise PermissionDenied("only lab staff may manage cohorts")
    return cohort


def participation_list_visible_to(user: User) -> QuerySet[Participation]:
    _require_user(user)
    qs = Participation.objects.select_related("programme", "cohort", "organisation")
    if is_lab_staff(user):
        return qs
    own = Q(organisation__memberships__user=user) | Q(mentors__mentor=user)
    if _is_investor(user):
        own |= Q(cohort__demo_day__isnull=False)
    return qs.filter(own).distinct()


def access_participation(user: User, participation_id: int, action: str = VIEW) -> Participation:
    """VIEW: staff, the team, its mentors, investors (once the cohort has a demo day).
    CHANGE (check-ins): staff and the team's members."""
    participation = participation_list_visible_to(user).filter(pk=participation_id).first()
    if participation is None:
        raise NotFound("no such participation", field="participation_id")
    if action == CHANGE and not (
        is_lab_staff(user) or is_member_of(user, participation.organisation_id)
    ):
        raise PermissionDenied("only the team or lab staff may change its participation")
    return participation


def participation_private_visible(user: User, participation: Participation) -> bool:
    """Check-ins and mentors: staff, the team and its mentors (not investors)."""
    return (
        is_lab_staff(user)
        or is_member_of(user, participation.organisation_id)
        or participation.mentors.filter(mentor=user).exists()
    )


def access_check_in(user: User, check_in_id: int, action: str = VIEW) -> CheckIn:
    _require_user(user)
    check_in = CheckIn.objects.filter(pk=check_in_id).first()
    if check_in is None:
        raise NotFound("no such check-in", field="check_in_id")
    participation = Participation.objects.get(pk=check_in.participation_id)
    allowed = participation_private_visible(user, participation)
    if action == CHANGE:
        allowed = is_lab_staff(user) or is_member_of(user, participation.organisation_id)
    if not allowed:
        raise NotFound("no such check-in", field="check_in_id")
    return check_in


def access_demo_day(user: User, demo_day_id: int) -> DemoDay:
    """Staff, investors, and the cohort's teams and mentors."""
    _require_user(user)
    demo_day = DemoDay.objects.select_related("cohort").filter(pk=demo_day_id).first()
    if demo_day is None:
        raise NotFound("no such demo day", field="demo_day_id")
    if is_lab_staff(user) or _is_investor(user):
        return demo_day
    if cohort_list_visible_to(user).filter(pk=demo_day.cohort_id).exists():
        return demo_day
    raise NotFound("no such demo day", field="demo_day_id")
