"""The admin lists the fund and programmes models, and never offers to edit the ledger."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.fund import factories

pytestmark = pytest.mark.django_db

PAGES = [
    "fund/fund",
    "fund/holding",
    "fund/ledgerentry",
    "fund/valuation",
    "programmes/programme",
    "programmes/intake",
    "programmes/application",
    "programmes/participation",
    "programmes/review",
]


@pytest.mark.parametrize("page", PAGES)
def test_admin_changelists_load(page) -> None:  # type: ignore[no-untyped-def]
    """Each changelist answers 200 to a superuser."""
    admin = factories.user("root@lab.example", staff=True)
    admin.is_superuser = True
    admin.save()
    c = Client()
    c.force_login(admin)
    assert c.get(f"/admin/{page}/").status_code == 200


def test_ledger_cannot_be_added_in_admin() -> None:
    """Adding a ledger entry by hand is forbidden (403): entries come from the services."""
    admin = factories.user("root2@lab.example", staff=True)
    admin.is_superuser = True
    admin.save()
    c = Client()
    c.force_login(admin)
    assert c.get("/admin/fund/ledgerentry/add/").status_code == 403
