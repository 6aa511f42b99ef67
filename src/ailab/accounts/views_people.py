"""Staff pages: people (users, their organisations, roles and Unix accounts), lockouts."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from ailab.accounts import invitations, roles, selectors, services, throttle
from ailab.accounts.models import Role
from ailab.accounts.posix import posix_account_of, posix_account_set
from ailab.common.errors import PermissionDenied, ValidationError
from ailab.common.http import AuthedHttpRequest


def _require_staff(request: AuthedHttpRequest) -> None:
    if not roles.is_lab_staff(request.user):
        raise PermissionDenied("only lab staff may manage people")


@login_required
def people(request: AuthedHttpRequest) -> HttpResponse:
    _require_staff(request)
    q = request.GET.get("q", "")
    context = {
        "people": selectors.user_search(request.user, q=q),
        "q": q,
        "organisations": selectors.organisation_list(),
        "roles": Role.choices,
    }
    return render(request, "accounts/people.html", context)


@login_required
@require_POST
def people_invite(request: AuthedHttpRequest) -> HttpResponse:
    _require_staff(request)
    raw_org = request.POST.get("organisation_id", "")
    if not raw_org.isdigit():
        raise ValidationError("choose an organisation", field="organisation_id")
    org = selectors.access_organisation(request.user, int(raw_org))
    issued = invitations.invitation_create(
        actor=request.user,
        organisation=org,
        email=request.POST.get("email", ""),
        role=request.POST.get("role", ""),
        base_url=request.build_absolute_uri("/"),
    )
    messages.success(request, f"Invitation sent to {issued.invitation.email}.")
    return redirect("people")


@login_required
def person(request: AuthedHttpRequest, user_id: int) -> HttpResponse:
    _require_staff(request)
    target = selectors.access_user(request.user, user_id)
    context = {
        "person": target,
        "memberships": selectors.membership_list_of(target),
        "posix": posix_account_of(target),
    }
    return render(request, "accounts/person.html", context)


@login_required
@require_POST
def person_active(request: AuthedHttpRequest, user_id: int) -> HttpResponse:
    _require_staff(request)
    target = selectors.access_user(request.user, user_id)
    active = request.POST.get("active") == "1"
    services.user_set_active(actor=request.user, user=target, active=active)
    messages.success(request, f"{target.email} {'reactivated' if active else 'deactivated'}.")
    return redirect("person", user_id=target.pk)


@login_required
@require_POST
def person_posix(request: AuthedHttpRequest, user_id: int) -> HttpResponse:
    _require_staff(request)
    target = selectors.access_user(request.user, user_id)
    raw_uid = request.POST.get("uid", "").strip()
    if raw_uid and not raw_uid.isdigit():
        raise ValidationError("must be a whole number", field="uid")
    account = posix_account_set(
        actor=request.user,
        user=target,
        username=request.POST.get("username", ""),
        uid=int(raw_uid) if raw_uid else None,
    )
    messages.success(request, f"Unix account {account.username} ({account.uid}) set.")
    return redirect("person", user_id=target.pk)


@login_required
def lockouts(request: AuthedHttpRequest) -> HttpResponse:
    context = {
        "attempts": throttle.lockout_list(actor=request.user),
        "limit": throttle.lockout_limit(),
    }
    return render(request, "accounts/lockouts.html", context)


@login_required
@require_POST
def lockout_clear(request: AuthedHttpRequest, attempt_id: int) -> HttpResponse:
    cleared = throttle.lockout_clear(actor=request.user, attempt_id=attempt_id)
    messages.success(request, f"Unlocked ({cleared} record(s) cleared).")
    return redirect("lockouts")
