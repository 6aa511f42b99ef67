"""Admin: read-only views of the fund. The ledger is written only through fund.services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from ailab.fund.models import Fund, Holding, LedgerEntry, Valuation


class ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Fund)
class FundAdmin(ReadOnly):
    list_display = ["name", "currency", "created_at"]


@admin.register(Holding)
class HoldingAdmin(ReadOnly):
    list_display = [
        "organisation",
        "fund",
        "instrument",
        "ownership_pct",
        "post_money_valuation",
        "invested_on",
        "status",
    ]
    list_filter = ["fund", "status", "instrument"]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnly):
    list_display = ["occurred_on", "fund", "kind", "amount", "counterparty", "reference"]
    list_filter = ["fund", "kind"]
    search_fields = ["reference", "memo", "counterparty__name"]


@admin.register(Valuation)
class ValuationAdmin(ReadOnly):
    list_display = ["holding", "as_of", "value"]
