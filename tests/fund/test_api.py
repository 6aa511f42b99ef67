"""The fund API: staff write the ledger, limited partners read it, others see nothing."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from ailab.accounts.models import OrganisationKind, Role
from ailab.fund.models import LedgerEntry
from tests.fund import factories

pytestmark = pytest.mark.django_db
API = "/api/v1"


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c


def _post(c: Client, url: str, body: dict) -> object:  # type: ignore[type-arg]
    return c.post(API + url, data=json.dumps(body), content_type="application/json")


def test_staff_invest_and_read_balances(staff) -> None:  # type: ignore[no-untyped-def]
    """A fund created via the API shows exact decimal strings; an investment of 100,000 for
    6% reports post-money 1666666.67; the ledger lists both entries."""
    c = _client(staff)
    r = _post(
        c,
        "/funds",
        {"name": "Evergreen", "committed_capital": "1000000", "committed_on": "2025-01-01"},
    )
    assert r.status_code == 201, r.content
    fund_id = r.json()["id"]
    org = factories.organisation("Invested AI")
    r = _post(
        c,
        f"/funds/{fund_id}/investments",
        {"organisation_id": org.pk, "amount": "100000", "equity_pct": "6", "on": "2025-02-01"},
    )
    assert r.status_code == 201, r.content
    assert r.json()["post_money_valuation"] == "1666666.67"
    detail = c.get(f"{API}/funds/{fund_id}").json()
    assert detail["balances"]["available"] == "900000.00"
    assert detail["balances"]["deployed"] == "100000.00"
    assert len(c.get(f"{API}/funds/{fund_id}/ledger").json()) == 2
    proj = c.get(f"{API}/funds/{fund_id}/projection?award_amount=100000").json()
    assert proj["awards"] == 9


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"equity_pct": "0"}, "equity_pct"),
        ({"equity_pct": "100"}, "equity_pct"),
        ({"amount": "-5"}, "amount"),
        ({"currency": "HKD"}, "fx_rate"),
    ],
)
def test_bad_investment_is_4xx_naming_field(staff, body, field) -> None:  # type: ignore[no-untyped-def]
    """Bad equity, a negative amount or a conversion without a rate: 422 naming the field,
    and the ledger is unchanged."""
    fund = factories.fund(staff, "1000000")
    org = factories.organisation()
    payload = {
        "organisation_id": org.pk,
        "amount": "100000",
        "equity_pct": "6",
        "on": "2025-02-01",
    } | body
    before = LedgerEntry.objects.count()
    r = _post(_client(staff), f"/funds/{fund.pk}/investments", payload)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == field
    assert LedgerEntry.objects.count() == before


def test_investment_beyond_cash_is_409(staff) -> None:  # type: ignore[no-untyped-def]
    """Beyond the available cash: 409 quota_exceeded naming amount."""
    fund = factories.fund(staff, "1000")
    org = factories.organisation()
    r = _post(
        _client(staff),
        f"/funds/{fund.pk}/investments",
        {"organisation_id": org.pk, "amount": "100000", "equity_pct": "6", "on": "2025-02-01"},
    )
    assert r.status_code == 409
    assert r.json()["error"] == "quota_exceeded"
    assert r.json()["errors"][0]["field"] == "amount"


def test_visibility_by_role(staff) -> None:  # type: ignore[no-untyped-def]
    """A limited partner reads the fund but may not write (403); an investor of another firm
    and a founder get 404 and an empty list."""
    lp = factories.organisation("LP", kind=OrganisationKind.INVESTOR)
    fund = factories.fund(staff, "1000", lp=lp)
    lp_user = factories.user()
    factories.member(lp_user, lp, Role.INVESTOR)
    assert _client(lp_user).get(f"{API}/funds/{fund.pk}").status_code == 200
    r = _post(
        _client(lp_user), f"/funds/{fund.pk}/commitments", {"amount": "1", "on": "2025-01-01"}
    )
    assert r.status_code == 403
    other = factories.user()
    factories.member(
        other, factories.organisation("VC", kind=OrganisationKind.INVESTOR), Role.INVESTOR
    )
    for user in (other, factories.founder(factories.organisation())):
        assert _client(user).get(f"{API}/funds/{fund.pk}").status_code == 404
        assert _client(user).get(f"{API}/funds").json() == []
