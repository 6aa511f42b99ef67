"""Writes for accounts: organisations, memberships and API tokens (one transaction each)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from ailab.accounts import roles
from ailab.accounts.models import (
    NAME_MAX,
    TEXT_MAX,
    APIToken,
    Membership,
    Organisation,
    OrganisationKind,
    Role,
    User,
)
from ailab.common.errors import Conflict, NotFound, PermissionDenied, ValidationError
from ailab.common.validation import full_clean_or_raise, refuse_control_chars, require_text

TOKEN_PREFIX = "ailab_"
_UNSET = object()


def _name(value: str | None, *, field: str, max_length: int, blank: bool = False) -> str:
    text = require_text(value, field=field, max_length=max_length, blank=blank)
    return refuse_control_chars(text, field=field)


def _choice(value: str, choices: type[OrganisationKind] | type[Role], field: str) -> str:
    if value not in choices.values:
        allowed = ", ".join(choices.values)
        raise ValidationError(f"unknown value {value!r}; one of: {allowed}", field=field)
    return value


# Users -------------------------------------------------------------------


@transaction.atomic
def user_create(
    *,
    email: str,
    password: str | None = None,
    full_name: str = "",
    is_staff: bool = False,
    email_verified: bool = True,
) -> User:
    """A user made by the lab (staff, the demo, imports): their address is taken as verified,
    so they sign in without a confirmation mail. People signing up verify theirs."""
    from allauth.account.models import EmailAddress

    email = refuse_control_chars(require_text(email, field="email", max_length=254), field="email")
    email = email.lower()
    if User.objects.filter(email__iexact=email).exists():
        raise Conflict("a user with this email already exists", field="email")
    user = User(
        email=email,
        full_name=_name(full_name, field="full_name", max_length=NAME_MAX, blank=True),
        is_staff=is_staff,
    )
    user.set_password(password)
    full_clean_or_raise(user, exclude=["password"])
    user.save()
    EmailAddress.objects.create(user=user, email=email, verified=email_verified, primary=True)
    return user


@transaction.atomic
def user_set_active(*, actor: User, user: User, active: bool) -> User:
    """Lab staff deactivate (sign-in and tokens stop working) or reactivate a user."""
    if not roles.is_lab_staff(actor):
        raise PermissionDenied("only lab staff may deactivate or reactivate users")
    if user.pk == actor.pk and not active:
        raise ValidationError("you cannot deactivate yourself", field="user_id")
    if user.is_superuser and not actor.is_superuser:
        raise PermissionDenied("only a superuser may deactivate a superuser")
    User.objects.filter(pk=user.pk).update(is_active=active)
    user.is_active = active
    return user


@transaction.atomic
def user_update(*, actor: User, user: User, full_name: str | None = None) -> User:
    if actor.pk != user.pk and not roles.is_lab_staff(actor):
        raise PermissionDenied("only you or lab staff may change your profile")
    if full_name is not None:
        user.full_name = _name(full_name, field="full_name", max_length=NAME_MAX, blank=True)
    user.save(update_fields=["full_name"])
    return user


# Organisations -----------------------------------------------------------


def _unique_slug(name: str, exclude_pk: int | str | None = None) -> str:
    base = slugify(name)[:180] or "organisation"
    slug, n = base, 1
    others = Organisation.objects.all()
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    while others.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def organisation_create(
    *,
    actor: User,
    name: str,
    kind: str,
    website: str = "",
    description: str = "",
    founded: dt.date | None = None,
) -> Organisation:
    """Lab staff create any organisation; anyone else may register a startup and founds it."""
    name = _name(name, field="name", max_length=NAME_MAX)
    kind = _choice(kind, OrganisationKind, "kind")
    staff = roles.is_lab_staff(actor)
    if not staff and kind != OrganisationKind.STARTUP:
        raise PermissionDenied("only lab staff may create organisations other than startups")
    if Organisation.objects.filter(name__iexact=name).exists():
        raise Conflict("an organisation with this name already exists", field="name")
    if founded is not None and founded > timezone.localdate():
        raise ValidationError("cannot be in the future", field="founded")
    org = Organisation(
        name=name,
        slug=_unique_slug(name),
        kind=kind,
        website=website or "",
        description=require_text(description, field="description", max_length=TEXT_MAX, blank=True),
        founded=founded,
    )
    full_clean_or_raise(org)
    org.save()
    if not staff:
        Membership.objects.create(user=actor, organisation=org, role=Role.FOUNDER)
    return org


@transaction.atomic
def organisation_update(
    *,
    actor: User,
    organisation: Organisation,
    name: str | None = None,
    kind: str | None = None,
    website: str | None = None,
    description: str | None = None,
    founded: dt.date | object | None = _UNSET,
) -> Organisation:
    if not roles.manages_organisation(actor, organisation.pk):
        raise PermissionDenied("only the organisation's founders or lab staff may change it")
    if name is not None:
        name = _name(name, field="name", max_length=NAME_MAX)
        if Organisation.objects.filter(name__iexact=name).exclude(pk=organisation.pk).exists():
            raise Conflict("an organisation with this name already exists", field="name")
        organisation.name = name
        organisation.slug = _unique_slug(name, exclude_pk=organisation.pk)
    if kind is not None:
        if not roles.is_lab_staff(actor):
            raise PermissionDenied("only lab staff may change an organisation's kind")
        organisation.kind = _choice(kind, OrganisationKind, "kind")
    if website is not None:
        organisation.website = website
    if description is not None:
        organisation.description = require_text(
            description, field="description", max_length=TEXT_MAX, blank=True
        )
    if founded is not _UNSET:
        if isinstance(founded, dt.date) and founded > timezone.localdate():
            raise ValidationError("cannot be in the future", field="founded")
        organisation.founded = founded  # type: ignore[assignment]
    full_clean_or_raise(organisation)
    organisation.save()
    return organisation


@transaction.atomic
def organisation_delete(*, actor: User, organisation: Organisation) -> None:
    if not roles.is_lab_staff(actor):
        raise PermissionDenied("only lab staff may delete organisations")
    organisation.delete()


# Memberships -------------------------------------------------------------


def _check_may_grant(actor: User, organisation: Organisation, role: str) -> None:
    if roles.is_lab_staff(actor):
        return
    if not roles.manages_organisation(actor, organisation.pk):
        raise PermissionDenied("only the organisation's founders or lab staff may manage members")
    if role not in roles.SELF_SERVICE_ROLES:
        raise PermissionDenied(f"only lab staff may give the role {role}")
    if role == Role.LAB_STAFF:
        raise PermissionDenied("only lab staff may give the role lab_staff")


@transaction.atomic
def membership_create(
    *, actor: User, organisation: Organisation, user: User, role: str
) -> Membership:
    """Lab staff's administrative enrolment (the demo, imports). Everyone else joins by
    accepting an invitation (``ailab.accounts.invitations``): nobody is enrolled unasked."""
    role = _choice(role, Role, "role")
    if not roles.is_lab_staff(actor):
        raise PermissionDenied(
            "members join by invitation: invite them (POST .../invitations)", field="user_id"
        )
    if role == Role.LAB_STAFF and organisation.kind != OrganisationKind.LAB:
        raise ValidationError("lab_staff is a role in an organisation of kind lab", field="role")
    if Membership.objects.filter(user=user, organisation=organisation).exists():
        raise Conflict("this user is already a member of this organisation", field="user_id")
    try:
        with transaction.atomic():
            return Membership.objects.create(user=user, organisation=organisation, role=role)
    except IntegrityError as exc:  # a concurrent duplicate
        raise Conflict(
            "this user is already a member of this organisation", field="user_id"
        ) from exc


@transaction.atomic
def membership_update(*, actor: User, membership: Membership, role: str) -> Membership:
    role = _choice(role, Role, "role")
    _check_may_grant(actor, membership.organisation, role)
    if role == Role.LAB_STAFF and membership.organisation.kind != OrganisationKind.LAB:
        raise ValidationError("lab_staff is a role in an organisation of kind lab", field="role")
    membership.role = role
    membership.save(update_fields=["role", "updated_at"])
    return membership


@transaction.atomic
def membership_delete(*, actor: User, membership: Membership) -> None:
    """Founders and lab staff remove members; anyone may leave an organisation."""
    if membership.user_id != actor.pk and not roles.manages_organisation(
        actor, membership.organisation_id
    ):
        raise PermissionDenied("only the organisation's founders or lab staff may remove members")
    membership.delete()


# API tokens --------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    token: APIToken
    raw: str  # shown once, never stored


def _digest(raw: str) -> str:
    # Tokens carry 256 bits of randomness, so a plain SHA-256 is enough (no slow KDF needed).
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def token_create(*, actor: User, user: User | None = None, name: str = "") -> IssuedToken:
    owner = user or actor
    if owner.pk != actor.pk and not roles.is_lab_staff(actor):
        raise PermissionDenied("only lab staff may create tokens for other users")
    name = _name(name or "token", field="name", max_length=100)
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = APIToken.objects.create(
        user=owner,
        name=name,
        prefix=raw[: len(TOKEN_PREFIX) + 6],
        digest=_digest(raw),
        created_by=actor,
    )
    return IssuedToken(token=token, raw=raw)


@transaction.atomic
def token_revoke(*, actor: User, token: APIToken) -> APIToken:
    """Revoke a token; revoking an already revoked token changes nothing."""
    if token.user_id != actor.pk and not roles.is_lab_staff(actor):
        raise NotFound("no such token", field="token_id")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at", "updated_at"])
    return token


def token_authenticate(*, raw: str) -> User | None:
    """The user a bearer token belongs to, or None; records when it was last used."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    token = (
        APIToken.objects.select_related("user")
        .filter(digest=_digest(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    # Write at most once a minute, so a busy client does not turn every read into a write.
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        APIToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
