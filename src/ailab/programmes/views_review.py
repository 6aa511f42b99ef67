"""Reviewer dashboard and review form; the staff pipeline board (HTMX) per intake."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from ailab.accounts.models import OrganisationKind, User
from ailab.accounts.roles import is_lab_staff
from ailab.accounts.selectors import organisation_list
from ailab.common.errors import ValidationError
from ailab.common.htmx import render_page_or_fragment
from ailab.programmes import forms, selectors, services
from ailab.programmes.models import ApplicationStatus


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


@login_required
def review_dashboard(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    context = {
        "assignments": selectors.assignment_list_for(user),
        "is_staff": is_lab_staff(user),
        "intakes": selectors.intake_list_public() if is_lab_staff(user) else [],
        "organisations": organisation_list(kind=OrganisationKind.STARTUP),
    }
    return render(request, "programmes/review_dashboard.html", context)


@login_required
def review_form(request: HttpRequest, assignment_id: int) -> HttpResponse:
    user = _user(request)
    assignment = selectors.access_assignment(user, assignment_id)
    app = assignment.application
    if request.method == "POST":
        services.review_submit(
            actor=user,
            assignment=assignment,
            scores=forms.scores_from(request.POST, app.intake),
            confidence=forms.int_from(request.POST, "confidence"),
            comments=request.POST.get("comments", ""),
        )
        messages.success(request, "Review submitted.")
        return redirect("review-form", assignment_id=assignment.pk)
    context = {
        "assignment": assignment,
        "app": app,
        "questions": [(q, app.answers.get(str(q.pk), "")) for q in app.intake.questions.all()],
        "criteria": list(app.intake.criteria.all()),
        "reviews": selectors.review_list_visible_to(user, application=app),
        "submitted": hasattr(assignment, "review"),
    }
    return render(request, "programmes/review_form.html", context)


def _board_context(request: HttpRequest, intake_id: int) -> dict[str, object]:
    intake = selectors.access_intake(_user(request), intake_id, selectors.CHANGE)
    return {
        "intake": intake,
        "columns": selectors.pipeline_board(intake=intake),
        "ranking": selectors.intake_ranking(intake=intake),
        "reviewers": list(selectors.reviewer_pool()),
        "fundable": selectors.intake_fundable(intake=intake),
        "accepted": intake.applications.filter(status=ApplicationStatus.ACCEPTED).count(),
    }


@login_required
def intake_pipeline(request: HttpRequest, intake_id: int) -> HttpResponse:
    """The staff board: applications by status, the ranking, and actions (HTMX)."""
    return render_page_or_fragment(
        request,
        "programmes/pipeline.html",
        "programmes/_board.html",
        _board_context(request, intake_id),
    )


@login_required
@require_POST
def pipeline_action(request: HttpRequest, intake_id: int) -> HttpResponse:
    """One action from the board: auto-assign, shortlist, accept, waitlist, reject, award."""
    user = _user(request)
    intake = selectors.access_intake(user, intake_id, selectors.CHANGE)
    action = request.POST.get("action", "")
    app_id = forms.int_from(request.POST, "application_id")
    if action == "auto_assign":
        result = services.review_auto_assign(
            actor=user,
            intake=intake,
            per_application=forms.int_from(request.POST, "per_application", 3),
            max_per_reviewer=forms.int_from(request.POST, "max_per_reviewer", 10),
        )
        messages.info(
            request,
            f"{len(result.created)} assignments made; "
            f"{len(result.shortfall)} application(s) short of reviewers.",
        )
    elif action == "assign":
        reviewer = (
            selectors.reviewer_pool().filter(pk=forms.int_from(request.POST, "reviewer_id")).first()
        )
        if reviewer is None:
            raise ValidationError("choose a reviewer", field="reviewer_id")
        services.review_assign(actor=user, application=_app(user, app_id), reviewer=reviewer)
    elif action == "shortlist":
        services.application_shortlist(actor=user, application=_app(user, app_id))
    elif action in (ApplicationStatus.ACCEPTED, ApplicationStatus.WAITLISTED):
        key = "accept" if action == ApplicationStatus.ACCEPTED else "waitlist"
        services.selection_decide(actor=user, intake=intake, **{key: [app_id]})  # type: ignore[arg-type]
    elif action == "reject_rest":
        services.selection_decide(actor=user, intake=intake, accept=[], reject_rest=True)
    elif action == "award":
        services.award_grant(actor=user, application=_app(user, app_id))
    return render_page_or_fragment(
        request,
        "programmes/pipeline.html",
        "programmes/_board.html",
        _board_context(request, intake_id),
    )


def _app(user: User, app_id: int):  # type: ignore[no-untyped-def]
    return selectors.access_application(user, app_id)
