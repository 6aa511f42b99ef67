"""Cohort pages: the timeline, teams, check-ins, mentors, demo day."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from ailab.accounts.models import User
from ailab.accounts.roles import is_lab_staff
from ailab.programmes import selectors, services


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


@login_required
def cohort_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    return render(
        request,
        "programmes/cohort_list.html",
        {
            "cohorts": selectors.cohort_list_visible_to(user),
            "participations": selectors.participation_list_visible_to(user).filter(
                cohort__isnull=True
            ),
        },
    )


@login_required
def cohort_detail(request: HttpRequest, cohort_id: int) -> HttpResponse:
    user = _user(request)
    cohort = selectors.access_cohort(user, cohort_id)
    teams = []
    for p in cohort.participations.select_related("organisation").order_by("organisation__name"):
        private = selectors.participation_private_visible(user, p)
        teams.append(
            {
                "p": p,
                "check_ins": list(p.check_ins.all()) if private else [],
                "mentors": list(p.mentors.select_related("mentor")) if private else [],
            }
        )
    context = {
        "cohort": cohort,
        "teams": teams,
        "milestones": cohort.milestones.all(),
        "demo_day": getattr(cohort, "demo_day", None),
        "today": timezone.localdate(),
        "is_staff": is_lab_staff(user),
    }
    return render(request, "programmes/cohort_detail.html", context)


@login_required
@require_POST
def check_in_report(request: HttpRequest, check_in_id: int) -> HttpResponse:
    user = _user(request)
    check_in = selectors.access_check_in(user, check_in_id, selectors.CHANGE)
    services.check_in_report(actor=user, check_in=check_in, summary=request.POST.get("summary", ""))
    messages.success(request, "Check-in reported.")
    return redirect("cohort-detail", cohort_id=check_in.participation.cohort_id)


@login_required
@require_POST
def participation_graduate(request: HttpRequest, participation_id: int) -> HttpResponse:
    """Staff graduate a team into the incubation programme."""
    user = _user(request)
    participation = selectors.access_participation(user, participation_id, selectors.CHANGE)
    services.participation_graduate(actor=user, participation=participation)
    messages.success(request, f"{participation.organisation.name} graduated to incubation.")
    return redirect("cohort-detail", cohort_id=participation.cohort_id)
