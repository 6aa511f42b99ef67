"""Conflicts of interest between reviewers and applicants, and the reviewer pool."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from ailab.accounts.models import Membership, Role, User
from ailab.fund import selectors as fund_selectors
from ailab.programmes.models import ConflictDeclaration


def reviewer_pool() -> QuerySet[User]:
    """Everyone with the reviewer role in some organisation."""
    return (
        User.objects.filter(is_active=True, memberships__role=Role.REVIEWER)
        .distinct()
        .order_by("pk")
    )


def conflict_map(
    reviewers: Iterable[User], organisation_ids: Iterable[int]
) -> dict[tuple[int, int], str]:
    """(reviewer id, organisation id) -> why they conflict, for every conflicted pair.

    A reviewer conflicts with an applicant when they are a member of it, have declared a
    conflict with it, or belong to a limited partner of a fund holding equity in it.
    """
    reviewer_ids = [r.pk for r in reviewers]
    org_ids = set(organisation_ids)
    conflicts: dict[tuple[int, int], str] = {}
    member_of: dict[int, set[int]] = {}
    for uid, oid in Membership.objects.filter(user_id__in=reviewer_ids).values_list(
        "user_id", "organisation_id"
    ):
        member_of.setdefault(uid, set()).add(oid)
        if oid in org_ids:
            conflicts[(uid, oid)] = "a member of the applicant"
    for uid, oid, reason in ConflictDeclaration.objects.filter(
        reviewer_id__in=reviewer_ids, organisation_id__in=org_ids
    ).values_list("reviewer_id", "organisation_id", "reason"):
        conflicts.setdefault((uid, oid), f"declared ({reason})")
    holders_of = fund_selectors.equity_holders_by_organisation(organisation_ids=org_ids)
    for oid, holders in holders_of.items():
        for uid in reviewer_ids:
            if member_of.get(uid, set()) & holders:
                conflicts.setdefault((uid, oid), "holds equity in the applicant through the fund")
    return conflicts


def conflict_reason(reviewer: User, organisation_id: int) -> str | None:
    """Why ``reviewer`` may not review ``organisation_id``'s application, or None."""
    return conflict_map([reviewer], [organisation_id]).get((reviewer.pk, organisation_id))
