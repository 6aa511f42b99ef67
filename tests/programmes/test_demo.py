"""The demo parts build a realistic lab through the services, and a rerun changes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ailab.fund.models import EntryKind, LedgerEntry
from ailab.programmes.models import Participation, ProgrammeKind

pytestmark = pytest.mark.django_db


def test_demo_parts_build_once_and_are_idempotent(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two past intakes (applications, accepted, invested), an exit recycled into the second,
    graduates in incubation, an open call; the second run returns the same summary."""
    from ailab import demo
    from ailab.fund import demo as fund_demo
    from ailab.programmes import demo as programmes_demo

    ctx = demo._people(progress=False)
    fund_demo.demo_build_part(ctx)
    first = programmes_demo.demo_build_part(ctx)
    entries = LedgerEntry.objects.count()
    again = fund_demo.demo_build_part(ctx) | programmes_demo.demo_build_part(ctx)
    assert again == first
    assert LedgerEntry.objects.count() == entries
    spring25, spring26 = first["intakes"]
    assert (spring25["applications"], spring25["accepted"]) == (12, 7)
    assert (spring26["applications"], spring26["accepted"]) == (14, 8)
    assert spring26["invested"] == "800000.00"
    fund = first["fund"]
    assert Decimal(fund["committed"]) == Decimal("1199992.00")  # US$1M + HK$1.56M at 0.1282
    assert Decimal(fund["recycled"]) == Decimal("300008.00")
    assert Decimal(fund["available"]) == Decimal("349992.00")
    assert LedgerEntry.objects.filter(kind=EntryKind.EXIT_PROCEEDS).count() == 1
    assert first["allocations_granted"]["count"] == 15
    assert first["allocations_granted"]["used_gpu_hours"] > 0
    incubating = Participation.objects.filter(programme__kind=ProgrammeKind.INCUBATION)
    assert incubating.count() == 7
