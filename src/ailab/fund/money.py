"""Money: Decimal amounts with an ISO currency, never float; conversions need an explicit rate."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from ailab.common.errors import ValidationError

CURRENCIES = ("USD", "HKD")
CENT = Decimal("0.01")
SYMBOLS = {"USD": "US$", "HKD": "HK$"}


def to_decimal(value: object, *, field: str) -> Decimal:
    """Parse a money amount: Decimal, int or numeric string. A float is refused (not exact)."""
    if isinstance(value, (bool, float)):
        raise ValidationError("give an exact amount (a decimal string), not a float", field=field)
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError(f"not a number: {value!r}", field=field) from exc
    if not amount.is_finite():
        raise ValidationError("must be a finite number", field=field)
    return amount


def quantise(amount: Decimal) -> Decimal:
    """Round to cents, half up: the one rounding rule for money in the lab."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def check_currency(currency: str, *, field: str = "currency") -> str:
    code = (currency or "").strip().upper()
    if code not in CURRENCIES:
        raise ValidationError(f"unknown currency {currency!r}; one of: USD, HKD", field=field)
    return code


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError("Money.amount must be a Decimal")
        check_currency(self.currency)

    @classmethod
    def of(cls, amount: object, currency: str, *, field: str = "amount") -> Money:
        return cls(quantise(to_decimal(amount, field=field)), check_currency(currency))

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal("0.00"), currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot mix {self.currency} and {other.currency} without a rate")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: int | Decimal) -> Money:
        return Money(quantise(self.amount * factor), self.currency)

    def convert(self, currency: str, rate: Decimal | None) -> Money:
        """``rate`` is units of ``currency`` per one unit of this money's currency."""
        currency = check_currency(currency)
        if currency == self.currency:
            return self
        if rate is None or rate <= 0:
            raise ValidationError(
                f"converting {self.currency} to {currency} needs an explicit positive rate",
                field="fx_rate",
            )
        return Money(quantise(self.amount * rate), currency)

    def __str__(self) -> str:
        sign = "-" if self.amount < 0 else ""
        return f"{sign}{SYMBOLS[self.currency]}{abs(self.amount):,.2f}"


def post_money_valuation(amount: Decimal, equity_pct: Decimal) -> Decimal:
    """Investment / ownership, to the cent: US$100,000 for 6% -> US$1,666,666.67."""
    if not (Decimal(0) < equity_pct < Decimal(100)):
        raise ValidationError("must be between 0 and 100 (exclusive)", field="equity_pct")
    return quantise(amount * Decimal(100) / equity_pct)


def format_money(amount: Decimal | None, currency: str) -> str:
    if amount is None:
        return "—"
    return str(Money(quantise(amount), currency))
