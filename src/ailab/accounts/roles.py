"""Who may do what with organisations and memberships: the rules, in one place."""

from __future__ import annotations

from ailab.accounts.models import Membership, OrganisationKind, Role, User

# Roles an organisation's founders may give (by invitation); every other role is granted by
# lab staff only.
SELF_SERVICE_ROLES = frozenset({Role.FOUNDER, Role.MEMBER})
# Roles whose holders see or act beyond their own organisation (reviews, cohorts, the fund).
CROSS_ORGANISATION_ROLES = frozenset(
    {Role.LAB_STAFF, Role.REVIEWER, Role.MENTOR, Role.INVESTOR, Role.INDUSTRY_PARTNER}
)
MANAGER_ROLES = frozenset({Role.FOUNDER})


def is_lab_staff(user: User) -> bool:
    """Lab staff: Django's ``is_staff``, or the lab_staff role in an organisation of kind lab."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_staff:
        return True
    cached = getattr(user, "_ailab_is_lab_staff", None)
    if cached is None:
        cached = Membership.objects.filter(
            user=user, role=Role.LAB_STAFF, organisation__kind=OrganisationKind.LAB
        ).exists()
        user._ailab_is_lab_staff = cached  # type: ignore[attr-defined]
    return bool(cached)


def has_role(user: User, *roles: str) -> bool:
    if not user.is_authenticated:
        return False
    return Membership.objects.filter(user=user, role__in=roles).exists()


def manages_organisation(user: User, organisation_id: int) -> bool:
    if is_lab_staff(user):
        return True
    return Membership.objects.filter(
        user=user, organisation_id=organisation_id, role__in=MANAGER_ROLES
    ).exists()


def is_member_of(user: User, organisation_id: int) -> bool:
    return Membership.objects.filter(user=user, organisation_id=organisation_id).exists()
