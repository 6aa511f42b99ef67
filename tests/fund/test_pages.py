"""The fund dashboard: metrics, a server-side SVG chart of capital, holdings, ledger."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from ailab.fund import services
from tests.fund import factories

pytestmark = pytest.mark.django_db


def test_dashboard_shows_metrics_and_chart(staff) -> None:  # type: ignore[no-untyped-def]
    """Staff see committed/deployed/available, the exact post-money and an inline SVG."""
    fund = factories.fund(staff, "1000000")
    services.investment_record(
        actor=staff,
        fund=fund,
        organisation=factories.organisation("X"),
        amount="100000",
        equity_pct="6",
        on=dt.date(2024, 3, 1),
    )
    c = Client()
    c.force_login(staff)
    page = c.get("/fund/").content.decode()
    assert "US$1,666,666.67" in page
    assert "US$900,000.00" in page
    assert "<svg" in page
    assert "<script" not in page.split("<svg", 1)[1].split("</svg>", 1)[0]


def test_dashboard_hidden_from_others(staff) -> None:  # type: ignore[no-untyped-def]
    """A founder sees no fund; asking for one by id is 404; anonymous users must log in."""
    fund = factories.fund(staff, "1000")
    c = Client()
    c.force_login(factories.founder(factories.organisation()))
    assert "No fund is visible" in c.get("/fund/").content.decode()
    assert c.get(f"/fund/?fund={fund.pk}").status_code == 404
    assert Client().get("/fund/").status_code == 302
