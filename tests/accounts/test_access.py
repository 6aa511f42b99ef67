"""Every access_* function of accounts, for every role, including those that must be refused."""

from __future__ import annotations

import pytest

from ailab.accounts import selectors, services
from ailab.accounts.models import Membership
from ailab.common.errors import NotAuthenticated, NotFound, PermissionDenied
from tests.accounts.conftest import People

ALL_ROLES = ["founder", "member", "outsider", "staff", "lab_staff", "reviewer", "investor"]


@pytest.mark.parametrize("role", ALL_ROLES)
def test_every_signed_in_role_may_view_an_organisation(people: People, role: str) -> None:
    """Organisations are a public directory: any active signed-in user may view one."""
    user = getattr(people, role)
    assert selectors.access_organisation(user, people.org.pk) == people.org


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("founder", True),
        ("staff", True),
        ("lab_staff", True),
        ("member", False),
        ("outsider", False),
        ("reviewer", False),
        ("investor", False),
    ],
)
def test_only_founders_and_lab_staff_may_change_an_organisation(
    people: People, role: str, allowed: bool
) -> None:
    """Changing an organisation needs its founder role or lab staff; others get 403."""
    user = getattr(people, role)
    if allowed:
        assert selectors.access_organisation(user, people.org.pk, selectors.CHANGE) == people.org
    else:
        with pytest.raises(PermissionDenied):
            selectors.access_organisation(user, people.org.pk, selectors.CHANGE)


@pytest.mark.parametrize("role", ["anonymous", "inactive"])
def test_anonymous_and_inactive_users_are_not_authenticated(people: People, role: str) -> None:
    """Without an active account every access_* function refuses with NotAuthenticated."""
    user = getattr(people, role)
    membership = Membership.objects.get(user=people.founder)
    token = services.token_create(actor=people.founder, name="t").token
    for call in (
        lambda: selectors.access_organisation(user, people.org.pk),
        lambda: selectors.access_membership(user, membership.pk),
        lambda: selectors.access_token(user, token.pk),
        lambda: selectors.access_user(user, people.founder.pk),
    ):
        with pytest.raises(NotAuthenticated):
            call()


def test_unknown_organisation_is_not_found(people: People) -> None:
    """An id that does not exist is a 404 naming organisation_id, for staff too."""
    with pytest.raises(NotFound) as exc:
        selectors.access_organisation(people.staff, 999_999)
    assert exc.value.field == "organisation_id"


@pytest.mark.parametrize(
    ("role", "view", "change"),
    [
        ("founder", True, True),  # manages the organisation
        ("member", True, True),  # it is their own membership (to leave)
        ("staff", True, True),
        ("lab_staff", True, True),
        ("outsider", False, False),  # not in the organisation: does not exist for them
        ("reviewer", False, False),
        ("investor", False, False),
    ],
)
def test_access_membership_by_role(people: People, role: str, view: bool, change: bool) -> None:
    """A membership is visible within its organisation and to lab staff; it is changed by
    the organisation's founders, lab staff, or the member themself."""
    membership = Membership.objects.get(user=people.member, organisation=people.org)
    user = getattr(people, role)
    if view:
        assert selectors.access_membership(user, membership.pk) == membership
    else:
        with pytest.raises(NotFound):
            selectors.access_membership(user, membership.pk)
    if change:
        assert selectors.access_membership(user, membership.pk, selectors.CHANGE) == membership
    else:
        with pytest.raises((NotFound, PermissionDenied)):
            selectors.access_membership(user, membership.pk, selectors.CHANGE)


def test_member_may_not_change_another_members_membership(people: People) -> None:
    """A plain member sees the founder's membership but may not change it (403)."""
    founder_membership = Membership.objects.get(user=people.founder, organisation=people.org)
    assert selectors.access_membership(people.member, founder_membership.pk)
    with pytest.raises(PermissionDenied):
        selectors.access_membership(people.member, founder_membership.pk, selectors.CHANGE)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("member", True),  # the owner
        ("staff", True),
        ("lab_staff", True),
        ("founder", False),  # founders do not see their members' tokens
        ("outsider", False),
        ("reviewer", False),
        ("investor", False),
    ],
)
def test_access_token_by_role(people: People, role: str, allowed: bool) -> None:
    """A token exists only for its owner and lab staff; to everyone else it is a 404."""
    token = services.token_create(actor=people.member, name="laptop").token
    user = getattr(people, role)
    if allowed:
        assert selectors.access_token(user, token.pk) == token
    else:
        with pytest.raises(NotFound):
            selectors.access_token(user, token.pk)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("member", True),
        ("staff", True),
        ("lab_staff", True),
        ("founder", False),
        ("outsider", False),
        ("reviewer", False),
        ("investor", False),
    ],
)
def test_access_user_by_role(people: People, role: str, allowed: bool) -> None:
    """A user record is visible to the user and to lab staff only."""
    user = getattr(people, role)
    if allowed:
        assert selectors.access_user(user, people.member.pk) == people.member
    else:
        with pytest.raises(NotFound):
            selectors.access_user(user, people.member.pk)


def test_membership_list_is_scoped_to_the_users_organisations(people: People) -> None:
    """Non-staff users list only memberships of organisations they belong to."""
    seen = {m.user.email for m in selectors.membership_list_visible_to(people.member)}
    assert seen == {"founder@example.com", "member@example.com", "gone@example.com"}
    everyone = selectors.membership_list_visible_to(people.staff)
    assert everyone.count() == Membership.objects.count()


def test_only_lab_staff_may_list_every_token(people: People) -> None:
    """Listing all users' tokens is for lab staff; others get 403."""
    services.token_create(actor=people.member, name="a")
    assert selectors.token_list_visible_to(people.lab_staff, all_users=True).count() == 1
    with pytest.raises(PermissionDenied):
        selectors.token_list_visible_to(people.founder, all_users=True)
