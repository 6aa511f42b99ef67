"""Reads for accounts, and the access_<entity> functions (DESIGN.md rule 3)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from ailab.accounts import roles
from ailab.accounts.models import APIToken, Membership, Organisation, User
from ailab.common.errors import NotAuthenticated, NotFound, PermissionDenied

VIEW = "view"
CHANGE = "change"


def _require_user(user: User) -> None:
    if not user.is_authenticated or not user.is_active:
        raise NotAuthenticated("authentication required")


def organisation_list(*, kind: str | None = None) -> QuerySet[Organisation]:
    qs = Organisation.objects.all()
    return qs.filter(kind=kind) if kind else qs


def access_organisation(user: User, organisation_id: int, action: str = VIEW) -> Organisation:
    """Organisations are a public directory; changing one needs its founders or lab staff."""
    _require_user(user)
    org = Organisation.objects.filter(pk=organisation_id).first()
    if org is None:
        raise NotFound("no such organisation", field="organisation_id")
    if action == CHANGE and not roles.manages_organisation(user, org.pk):
        raise PermissionDenied("only the organisation's founders or lab staff may change it")
    return org


def membership_list_visible_to(
    user: User, *, organisation_id: int | None = None
) -> QuerySet[Membership]:
    """Lab staff see every membership; others those of organisations they belong to."""
    _require_user(user)
    qs = Membership.objects.select_related("user", "organisation")
    if not roles.is_lab_staff(user):
        qs = qs.filter(organisation__memberships__user=user)
    if organisation_id is not None:
        qs = qs.filter(organisation_id=organisation_id)
    return qs.distinct()


def membership_list_of(user: User, *, role: str | None = None) -> QuerySet[Membership]:
    """The user's own memberships (optionally of one role), with their organisations."""
    qs = Membership.objects.select_related("organisation").filter(user=user)
    return qs.filter(role=role) if role else qs


def access_membership(user: User, membership_id: int, action: str = VIEW) -> Membership:
    """Visible to lab staff and members of the same organisation; changed by founders, staff,
    and (to leave) the member themself."""
    _require_user(user)
    membership = (
        Membership.objects.select_related("user", "organisation").filter(pk=membership_id).first()
    )
    if membership is None:
        raise NotFound("no such membership", field="membership_id")
    staff = roles.is_lab_staff(user)
    if not staff and not roles.is_member_of(user, membership.organisation_id):
        raise NotFound("no such membership", field="membership_id")
    if action == CHANGE and not (
        membership.user_id == user.pk
        or roles.manages_organisation(user, membership.organisation_id)
    ):
        raise PermissionDenied("only the organisation's founders or lab staff may change members")
    return membership


def token_list_visible_to(user: User, *, all_users: bool = False) -> QuerySet[APIToken]:
    _require_user(user)
    qs = APIToken.objects.select_related("user")
    if all_users:
        if not roles.is_lab_staff(user):
            raise PermissionDenied("only lab staff may list every user's tokens")
        return qs
    return qs.filter(user=user)


def access_token(user: User, token_id: int) -> APIToken:
    """A token is visible to its owner and to lab staff; to anyone else it does not exist."""
    _require_user(user)
    token = APIToken.objects.select_related("user").filter(pk=token_id).first()
    if token is None or (token.user_id != user.pk and not roles.is_lab_staff(user)):
        raise NotFound("no such token", field="token_id")
    return token


def access_user(user: User, user_id: int) -> User:
    """Users see themselves; lab staff see everyone."""
    _require_user(user)
    target = User.objects.filter(pk=user_id).first()
    if target is None or (target.pk != user.pk and not roles.is_lab_staff(user)):
        raise NotFound("no such user", field="user_id")
    return target


def user_by_id(user_id: int) -> User:
    target = User.objects.filter(pk=user_id).first()
    if target is None:
        raise NotFound("no such user", field="user_id")
    return target


def user_search(actor: User, *, q: str = "", limit: int = 100) -> QuerySet[User]:
    """Lab staff look people up by email or name; nobody else may list users."""
    _require_user(actor)
    if not roles.is_lab_staff(actor):
        raise PermissionDenied("only lab staff may look people up")
    qs = User.objects.select_related("posix").prefetch_related("memberships__organisation")
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(email__icontains=q) | Q(full_name__icontains=q))
    return qs.order_by("email")[:limit]


def organisation_list_managed_by(user: User) -> QuerySet[Organisation]:
    """Organisations the user may invite into: all for lab staff, else those they found."""
    _require_user(user)
    if roles.is_lab_staff(user):
        return Organisation.objects.all()
    return Organisation.objects.filter(
        memberships__user=user, memberships__role__in=roles.MANAGER_ROLES
    ).distinct()
