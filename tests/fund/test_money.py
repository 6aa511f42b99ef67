"""Money: exact Decimal amounts with a currency; conversion only with an explicit rate."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ailab.common.errors import ValidationError
from ailab.fund.money import Money, format_money, post_money_valuation


def test_post_money_valuation_is_exact_to_the_cent() -> None:
    """US$100,000 for 6% is a post-money valuation of exactly US$1,666,666.67."""
    value = post_money_valuation(Decimal("100000"), Decimal("6"))
    assert value == Decimal("1666666.67")
    assert value.as_tuple().exponent == -2
    assert format_money(value, "USD") == "US$1,666,666.67"


@pytest.mark.parametrize("pct", ["0", "100", "-1", "150"])
def test_equity_outside_0_100_is_refused(pct: str) -> None:
    """Equity of 0, 100 or outside them is a ValidationError naming equity_pct."""
    with pytest.raises(ValidationError) as err:
        post_money_valuation(Decimal("100000"), Decimal(pct))
    assert err.value.field == "equity_pct"


def test_floats_are_refused() -> None:
    """A float amount is refused: money is never float."""
    with pytest.raises(ValidationError) as err:
        Money.of(0.1, "USD")
    assert err.value.field == "amount"


def test_conversion_needs_an_explicit_rate() -> None:
    """HKD to USD needs a rate (field fx_rate); with one it rounds half up to the cent."""
    hkd = Money.of("7800", "HKD")
    with pytest.raises(ValidationError) as err:
        hkd.convert("USD", None)
    assert err.value.field == "fx_rate"
    assert hkd.convert("USD", Decimal("0.128205")) == Money(Decimal("1000.00"), "USD")
    assert str(Money.of("7800", "HKD")) == "HK$7,800.00"


def test_mixing_currencies_without_a_rate_fails() -> None:
    """Adding USD to HKD raises instead of silently mixing."""
    with pytest.raises(ValueError, match="without a rate"):
        _ = Money.of("1", "USD") + Money.of("1", "HKD")


def test_unknown_currency_is_refused() -> None:
    """Only USD and HKD are supported."""
    with pytest.raises(ValidationError):
        Money.of("1", "EUR")
