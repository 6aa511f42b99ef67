"""Eligibility rules as data: checked when applying, validated when the intake is made."""

from __future__ import annotations

import datetime as dt

import pytest

from ailab.common.errors import ValidationError
from ailab.programmes import eligibility
from tests.fund import factories

pytestmark = pytest.mark.django_db


def test_founded_after_rule() -> None:
    """An organisation founded on or before the date, or without a date, is not eligible."""
    rules = eligibility.rules_clean([{"rule": "founded_after", "date": "2020-01-01"}])
    assert eligibility.check(rules, factories.organisation(founded=dt.date(2021, 1, 1))) is None
    old = factories.organisation(founded=dt.date(2019, 5, 1))
    assert "founded after 2020-01-01" in (eligibility.check(rules, old) or "")


def test_kind_rule() -> None:
    """Only the listed organisation kinds are eligible."""
    rules = eligibility.rules_clean([{"rule": "organisation_kind", "kinds": ["startup"]}])
    assert eligibility.check(rules, factories.organisation(kind="university")) is not None


@pytest.mark.parametrize(
    "bad",
    [
        [{"rule": "nonsense"}],
        [{"rule": "founded_after", "date": "soon"}],
        [{"rule": "organisation_kind", "kinds": ["pirates"]}],
        "not a list",
    ],
)
def test_bad_rules_are_refused(bad) -> None:  # type: ignore[no-untyped-def]
    """Unknown rules, bad dates and unknown kinds name the rule's index."""
    with pytest.raises(ValidationError) as err:
        eligibility.rules_clean(bad)
    assert (err.value.field or "").startswith("eligibility")
