"""{{ amount|money:"USD" }} -> US$1,666,666.67 (exact Decimal, never float)."""

from __future__ import annotations

from decimal import Decimal

from django import template

from ailab.fund.money import format_money

register = template.Library()


@register.filter
def money(amount: Decimal | None, currency: str = "USD") -> str:
    return format_money(amount, currency)


@register.filter
def pct(value: float | Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{float(value) * 100:.1f}%"
