"""Invitations: how people join an organisation. Nobody becomes a member without accepting.

Lab staff invite anyone with any role into any organisation; an organisation's founders
invite into their own organisation as founder or member. The link carries a random token
whose SHA-256 alone is stored; the mail is sent after commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from ailab.accounts import roles
from ailab.accounts.models import (
    Invitation,
    InvitationStatus,
    Membership,
    Organisation,
    OrganisationKind,
    Role,
    User,
)
from ailab.common.errors import Conflict, NotFound, PermissionDenied, ValidationError

INVITATION_DAYS = 14


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    raw: str  # the token in the link; mailed once, never stored

    @property
    def path(self) -> str:
        return reverse("invitation-answer", args=[self.raw])


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _check_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except DjangoValidationError as exc:
        raise ValidationError("enter a valid email address", field="email") from exc
    return email


def check_may_invite(actor: User, organisation: Organisation, role: str) -> None:
    """Staff: any role anywhere. Founders: founder or member in their own organisation."""
    if role not in Role.values:
        raise ValidationError(
            f"unknown value {role!r}; one of: {', '.join(Role.values)}", field="role"
        )
    if role == Role.LAB_STAFF and organisation.kind != OrganisationKind.LAB:
        raise ValidationError("lab_staff is a role in an organisation of kind lab", field="role")
    if roles.is_lab_staff(actor):
        return
    if not roles.manages_organisation(actor, organisation.pk):
        raise PermissionDenied("only the organisation's founders or lab staff may invite people")
    if role not in roles.SELF_SERVICE_ROLES:
        raise PermissionDenied(f"only lab staff may give the role {role}", field="role")


def _mail(invitation_id: int, raw: str, base_url: str) -> None:
    invitation = Invitation.objects.select_related("organisation").get(pk=invitation_id)
    link = base_url.rstrip("/") + reverse("invitation-answer", args=[raw])
    body = (
        f"You are invited to join {invitation.organisation.name} as "
        f"{invitation.get_role_display().lower()} on {settings.LAB_NAME}.\n\n"
        f"Accept or decline here (sign up with this address if you have no account):\n{link}\n\n"
        f"The invitation expires on {invitation.expires_at:%Y-%m-%d}."
    )
    subject = f"[{settings.LAB_NAME}] Invitation to {invitation.organisation.name}"
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [invitation.email])


@transaction.atomic
def invitation_create(
    *, actor: User, organisation: Organisation, email: str, role: str, base_url: str = ""
) -> IssuedInvitation:
    """Invite ``email``; a pending invitation to the same address is replaced by this one."""
    email = _check_email(email)
    check_may_invite(actor, organisation, role)
    if Membership.objects.filter(organisation=organisation, user__email__iexact=email).exists():
        raise Conflict("this person is already a member of this organisation", field="email")
    Invitation.objects.filter(
        organisation=organisation, email__iexact=email, status=InvitationStatus.PENDING
    ).update(status=InvitationStatus.REVOKED, answered_at=timezone.now())
    raw = secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            invitation = Invitation.objects.create(
                organisation=organisation,
                email=email,
                role=role,
                digest=_digest(raw),
                invited_by=actor,
                expires_at=timezone.now() + dt.timedelta(days=INVITATION_DAYS),
            )
    except IntegrityError as exc:  # a concurrent invitation to the same address
        raise Conflict("an invitation to this address is pending", field="email") from exc
    transaction.on_commit(partial(_mail, invitation.pk, raw, base_url or _site_url()))
    return IssuedInvitation(invitation=invitation, raw=raw)


def _site_url() -> str:
    return str(getattr(settings, "AILAB_SITE_URL", "") or "http://localhost:8000")


def invitation_by_token(raw: str) -> Invitation:
    """The pending, unexpired invitation a link names; any other answer is 'no such'."""
    invitation = (
        Invitation.objects.select_related("organisation", "invited_by")
        .filter(digest=_digest(raw or ""), status=InvitationStatus.PENDING)
        .first()
    )
    if invitation is None or invitation.expires_at <= timezone.now():
        raise NotFound("no such invitation, or it has expired or been answered", field="token")
    return invitation


def _check_addressee(user: User, invitation: Invitation) -> None:
    if not user.is_authenticated or not user.is_active:
        raise PermissionDenied("sign in to answer this invitation")
    if user.email.lower() != invitation.email.lower():
        raise PermissionDenied(
            "this invitation was sent to another address: sign in with that address",
            field="token",
        )


@transaction.atomic
def invitation_accept(*, user: User, raw: str) -> Membership:
    """The invitee accepts: the membership (or, if already a member, the role) is set."""
    invitation = invitation_by_token(raw)
    _check_addressee(user, invitation)
    updated = Invitation.objects.filter(pk=invitation.pk, status=InvitationStatus.PENDING).update(
        status=InvitationStatus.ACCEPTED, accepted_by=user, answered_at=timezone.now()
    )
    if not updated:
        raise Conflict("this invitation has just been answered", field="token")
    membership, created = Membership.objects.get_or_create(
        user=user, organisation=invitation.organisation, defaults={"role": invitation.role}
    )
    if not created and membership.role != invitation.role:
        membership.role = invitation.role
        membership.save(update_fields=["role", "updated_at"])
    return membership


@transaction.atomic
def invitation_decline(*, user: User, raw: str) -> Invitation:
    invitation = invitation_by_token(raw)
    _check_addressee(user, invitation)
    Invitation.objects.filter(pk=invitation.pk, status=InvitationStatus.PENDING).update(
        status=InvitationStatus.DECLINED, answered_at=timezone.now()
    )
    invitation.refresh_from_db()
    return invitation


@transaction.atomic
def invitation_revoke(*, actor: User, invitation: Invitation) -> Invitation:
    if not roles.manages_organisation(actor, invitation.organisation_id):
        raise PermissionDenied("only the organisation's founders or lab staff may revoke")
    Invitation.objects.filter(pk=invitation.pk, status=InvitationStatus.PENDING).update(
        status=InvitationStatus.REVOKED, answered_at=timezone.now()
    )
    invitation.refresh_from_db()
    return invitation


def invitation_list_visible_to(
    user: User, *, organisation_id: int | None = None
) -> QuerySet[Invitation]:
    """Lab staff see every invitation; founders those of organisations they manage."""
    if not user.is_authenticated or not user.is_active:
        raise PermissionDenied("sign in first")
    qs = Invitation.objects.select_related("organisation", "invited_by")
    if not roles.is_lab_staff(user):
        managed = Membership.objects.filter(user=user, role__in=roles.MANAGER_ROLES).values(
            "organisation_id"
        )
        qs = qs.filter(organisation_id__in=managed)
    if organisation_id is not None:
        qs = qs.filter(organisation_id=organisation_id)
    return qs


def access_invitation(user: User, invitation_id: int) -> Invitation:
    """Visible to lab staff and the organisation's founders; to anyone else it does not exist."""
    if not user.is_authenticated or not user.is_active:
        from ailab.common.errors import NotAuthenticated

        raise NotAuthenticated("authentication required")
    invitation = Invitation.objects.select_related("organisation").filter(pk=invitation_id).first()
    if invitation is None or not roles.manages_organisation(user, invitation.organisation_id):
        raise NotFound("no such invitation", field="invitation_id")
    return invitation
