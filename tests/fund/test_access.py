"""access_fund and access_holding for every role."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import AnonymousUser

from ailab.accounts.models import OrganisationKind, Role
from ailab.common.errors import NotAuthenticated, NotFound, PermissionDenied
from ailab.fund import selectors, services
from tests.fund import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(staff):  # type: ignore[no-untyped-def]
    lp = factories.organisation("Pension LP", kind=OrganisationKind.INVESTOR)
    fund = factories.fund(staff, "1000", lp=lp)
    org = factories.organisation("Startup")
    holding = services.investment_record(
        actor=staff,
        fund=fund,
        organisation=org,
        amount="100",
        equity_pct="6",
        on=dt.date(2024, 1, 1),
    )
    lp_member = factories.user()
    factories.member(lp_member, lp, Role.INVESTOR)
    other_vc = factories.organisation("Other VC", kind=OrganisationKind.INVESTOR)
    investor = factories.user()
    factories.member(investor, other_vc, Role.INVESTOR)
    founder = factories.founder(org)
    reviewer = factories.user()
    factories.member(reviewer, factories.organisation("Co", kind="company"), Role.REVIEWER)
    return {
        "fund": fund,
        "holding": holding,
        "lp": lp_member,
        "investor": investor,
        "founder": founder,
        "reviewer": reviewer,
    }


def test_staff_view_and_change(staff, world) -> None:  # type: ignore[no-untyped-def]
    """Lab staff see and change every fund and holding."""
    assert selectors.access_fund(staff, world["fund"].pk, selectors.CHANGE) == world["fund"]
    assert selectors.access_holding(staff, world["holding"].pk, selectors.CHANGE)


def test_limited_partner_views_but_cannot_change(world) -> None:  # type: ignore[no-untyped-def]
    """A member of a limited partner sees its fund and holdings, and may not change them."""
    assert selectors.access_fund(world["lp"], world["fund"].pk) == world["fund"]
    assert selectors.access_holding(world["lp"], world["holding"].pk)
    with pytest.raises(PermissionDenied):
        selectors.access_fund(world["lp"], world["fund"].pk, selectors.CHANGE)
    with pytest.raises(PermissionDenied):
        selectors.access_holding(world["lp"], world["holding"].pk, selectors.CHANGE)


@pytest.mark.parametrize("role", ["investor", "founder", "reviewer"])
def test_others_do_not_see_the_fund(world, role) -> None:  # type: ignore[no-untyped-def]
    """An investor of another firm, a founder (even of a held startup) and a reviewer get
    NotFound for the fund and its holdings, and an empty list."""
    user = world[role]
    with pytest.raises(NotFound):
        selectors.access_fund(user, world["fund"].pk)
    with pytest.raises(NotFound):
        selectors.access_holding(user, world["holding"].pk)
    assert not selectors.fund_list_visible_to(user).exists()


def test_anonymous_is_asked_to_log_in(world) -> None:  # type: ignore[no-untyped-def]
    """Anonymous users get NotAuthenticated."""
    with pytest.raises(NotAuthenticated):
        selectors.access_fund(AnonymousUser(), world["fund"].pk)
    with pytest.raises(NotAuthenticated):
        selectors.access_holding(AnonymousUser(), world["holding"].pk)


def test_missing_fund_is_not_found(staff) -> None:  # type: ignore[no-untyped-def]
    """An unknown id is NotFound naming fund_id."""
    with pytest.raises(NotFound) as err:
        selectors.access_fund(staff, 99999)
    assert err.value.field == "fund_id"
