"""The evergreen fund: a ledger of cash movements, holdings per startup, and marks over time.

Balances are never stored: they are sums over ``LedgerEntry`` (see ``fund.selectors``).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from ailab.accounts.models import NAME_MAX, TEXT_MAX, Organisation
from ailab.common.models import TimeStampedModel
from ailab.common.transitions import Transitions, transition_write


class Currency(models.TextChoices):
    USD = "USD", "US dollar"
    HKD = "HKD", "Hong Kong dollar"


class Fund(TimeStampedModel):
    """An evergreen fund: returns stay in it and pay for later intakes."""

    name = models.CharField(max_length=NAME_MAX, unique=True)
    currency = models.CharField(max_length=3, choices=Currency.choices, default=Currency.USD)
    description = models.TextField(blank=True, max_length=TEXT_MAX)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class EntryKind(models.TextChoices):
    COMMITMENT = "commitment", "Commitment in"
    INVESTMENT = "investment", "Investment out"
    FOLLOW_ON = "follow_on", "Follow-on out"
    EXIT_PROCEEDS = "exit_proceeds", "Exit proceeds in"
    DIVIDEND = "dividend", "Dividend in"
    WRITE_OFF = "write_off", "Write-off"


# How each kind moves the fund's cash. A write-off moves no cash: it records lost cost.
CASH_SIGN: dict[str, int] = {
    EntryKind.COMMITMENT: 1,
    EntryKind.INVESTMENT: -1,
    EntryKind.FOLLOW_ON: -1,
    EntryKind.EXIT_PROCEEDS: 1,
    EntryKind.DIVIDEND: 1,
    EntryKind.WRITE_OFF: 0,
}
DEPLOYING = (EntryKind.INVESTMENT, EntryKind.FOLLOW_ON)
REALISING = (EntryKind.EXIT_PROCEEDS, EntryKind.DIVIDEND)


class Instrument(models.TextChoices):
    EQUITY = "equity", "Equity"
    SAFE = "safe", "SAFE"
    CONVERTIBLE_NOTE = "convertible_note", "Convertible note"


class HoldingStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    EXITED = "exited", "Exited"
    WRITTEN_OFF = "written_off", "Written off"


HOLDING_TRANSITIONS = Transitions(
    "holding",
    {
        HoldingStatus.ACTIVE: {HoldingStatus.EXITED, HoldingStatus.WRITTEN_OFF},
        HoldingStatus.EXITED: set(),
        HoldingStatus.WRITTEN_OFF: set(),
    },
)


def holding_transition(holding: Holding, to: str, *, expect: str, **fields: object) -> bool:
    """The one writer of ``Holding.status``: declared transitions, guarded UPDATE."""
    return transition_write(HOLDING_TRANSITIONS, holding, to=to, expect=expect, **fields)


class Holding(TimeStampedModel):
    """The fund's position in one startup. Its cost is the sum of its ledger entries."""

    fund = models.ForeignKey(Fund, on_delete=models.PROTECT, related_name="holdings")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="fund_holdings"
    )
    instrument = models.CharField(
        max_length=32, choices=Instrument.choices, default=Instrument.EQUITY
    )
    ownership_pct = models.DecimalField(
        max_digits=7, decimal_places=4, help_text="Ownership at entry, in percent."
    )
    post_money_valuation = models.DecimalField(max_digits=18, decimal_places=2)
    invested_on = models.DateField()
    status = models.CharField(
        max_length=16, choices=HoldingStatus.choices, default=HoldingStatus.ACTIVE
    )
    closed_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["fund", "invested_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["fund", "organisation"], name="holding_one_per_fund_and_organisation"
            ),
            models.CheckConstraint(
                condition=Q(ownership_pct__gt=0) & Q(ownership_pct__lt=100),
                name="holding_ownership_between_0_and_100",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.fund}: {self.organisation}"


class LedgerEntry(TimeStampedModel):
    """One cash movement, in the fund's currency; immutable once written.

    ``amount`` is always positive; ``CASH_SIGN[kind]`` gives its direction. An entry made in
    another currency keeps the original amount and the explicit rate used to convert it.
    """

    fund = models.ForeignKey(Fund, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    occurred_on = models.DateField()
    holding = models.ForeignKey(
        Holding, on_delete=models.PROTECT, null=True, blank=True, related_name="entries"
    )
    counterparty = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    original_amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    original_currency = models.CharField(max_length=3, blank=True, choices=Currency.choices)
    fx_rate = models.DecimalField(
        max_digits=18,
        decimal_places=8,
        null=True,
        blank=True,
        help_text="Fund-currency units per one unit of the original currency.",
    )
    reference = models.CharField(
        max_length=100, blank=True, help_text="Idempotency key, e.g. award:42."
    )
    memo = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering = ["occurred_on", "id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="ledger_amount_positive"),
            models.UniqueConstraint(
                fields=["fund", "reference"],
                condition=~Q(reference=""),
                name="ledger_reference_unique_per_fund",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_on} {self.get_kind_display()} {self.amount}"

    @property
    def signed_amount(self) -> Decimal:
        return self.amount * CASH_SIGN[self.kind]


class Valuation(TimeStampedModel):
    """A mark: what the holding is worth on a date (in the fund's currency)."""

    holding = models.ForeignKey(Holding, on_delete=models.CASCADE, related_name="valuations")
    as_of = models.DateField()
    value = models.DecimalField(max_digits=18, decimal_places=2)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["holding", "as_of"]
        constraints = [
            models.UniqueConstraint(fields=["holding", "as_of"], name="valuation_one_per_day"),
            models.CheckConstraint(condition=Q(value__gte=0), name="valuation_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.holding} @ {self.as_of}: {self.value}"
