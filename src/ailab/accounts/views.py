"""Account pages: API tokens, startups, organisation members and invitations."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from ailab.accounts import invitations, roles, selectors, services
from ailab.accounts.models import InvitationStatus, OrganisationKind, Role, User
from ailab.common.errors import PermissionDenied
from ailab.common.http import AuthedHttpRequest


@login_required
def tokens(request: AuthedHttpRequest) -> HttpResponse:
    context: dict[str, Any] = {
        "tokens": selectors.token_list_visible_to(request.user),
        "new_token": None,
    }
    if request.method == "POST":
        issued = services.token_create(actor=request.user, name=request.POST.get("name", ""))
        context["new_token"] = issued.raw
    return render(request, "accounts/tokens.html", context)


@login_required
@require_POST
def token_revoke(request: AuthedHttpRequest, token_id: int) -> HttpResponse:
    token = selectors.access_token(request.user, token_id)
    services.token_revoke(actor=request.user, token=token)
    messages.success(request, f"Token {token.name} revoked.")
    return redirect("tokens")


@login_required
def startup_create(request: AuthedHttpRequest) -> HttpResponse:
    """A user registers a startup organisation and becomes its founder."""
    values = {"name": "", "website": "", "description": ""}
    if request.method == "POST":
        values = {k: request.POST.get(k, "") for k in values}
        org = services.organisation_create(
            actor=request.user,
            name=values["name"],
            kind=OrganisationKind.STARTUP,
            website=values["website"].strip(),
            description=values["description"],
        )
        messages.success(request, f"{org.name} is registered; you are its founder.")
        return redirect("organisation-members", organisation_id=org.pk)
    return render(request, "accounts/startup_form.html", {"values": values})


@login_required
def my_organisations(request: AuthedHttpRequest) -> HttpResponse:
    context = {"memberships": selectors.membership_list_of(request.user)}
    return render(request, "accounts/my_organisations.html", context)


@login_required
def organisation_members(request: AuthedHttpRequest, organisation_id: int) -> HttpResponse:
    """Members and pending invitations; founders (and lab staff) invite from here."""
    org = selectors.access_organisation(request.user, organisation_id)
    manages = roles.manages_organisation(request.user, org.pk)
    if not manages and not roles.is_member_of(request.user, org.pk):
        raise PermissionDenied("only the organisation's members see its members")
    if request.method == "POST":
        if not manages:
            raise PermissionDenied("only the organisation's founders or lab staff may invite")
        issued = invitations.invitation_create(
            actor=request.user,
            organisation=org,
            email=request.POST.get("email", ""),
            role=request.POST.get("role", ""),
            base_url=request.build_absolute_uri("/"),
        )
        messages.success(request, f"Invitation sent to {issued.invitation.email}.")
        return redirect("organisation-members", organisation_id=org.pk)
    staff = roles.is_lab_staff(request.user)
    role_choices = [
        (value, label)
        for value, label in Role.choices
        if staff or value in roles.SELF_SERVICE_ROLES
    ]
    context = {
        "organisation": org,
        "memberships": selectors.membership_list_visible_to(request.user, organisation_id=org.pk),
        "pending": (
            invitations.invitation_list_visible_to(request.user, organisation_id=org.pk).filter(
                status=InvitationStatus.PENDING
            )
            if manages
            else []
        ),
        "manages": manages,
        "show_emails": staff,
        "role_choices": role_choices,
    }
    return render(request, "accounts/organisation_members.html", context)


def invitation_answer(request: HttpRequest, token: str) -> HttpResponse:
    """The link in the mail: shows the offer; signed in as the invitee, accept or decline."""
    invitation = invitations.invitation_by_token(token)
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        user: User = request.user
        if request.POST.get("answer") == "accept":
            membership = invitations.invitation_accept(user=user, raw=token)
            messages.success(request, f"You joined {membership.organisation.name}.")
            return redirect("organisation-members", organisation_id=membership.organisation_id)
        invitations.invitation_decline(user=user, raw=token)
        messages.info(request, "Invitation declined.")
        return redirect("home")
    context = {
        "invitation": invitation,
        "addressee": request.user.is_authenticated
        and request.user.email.lower() == invitation.email.lower(),
    }
    return render(request, "accounts/invitation.html", context)
