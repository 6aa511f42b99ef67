"""Eligibility rules as data: each intake holds a list of ``{"rule": name, ...}`` dicts.

    [{"rule": "organisation_kind", "kinds": ["startup"]},
     {"rule": "founded_after", "date": "2020-01-01"}]

``rules_clean`` checks the list when an intake is saved; ``check`` tells whether an
organisation meets every rule and, if not, why (the first failed rule's reason).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from ailab.accounts.models import Organisation, OrganisationKind
from ailab.common.errors import ValidationError

Rule = dict[str, Any]


def _kind(rule: Rule, org: Organisation) -> str | None:
    kinds = rule["kinds"]
    if org.kind in kinds:
        return None
    return f"open to organisations of kind {', '.join(kinds)} (this one is {org.kind})"


def _founded_after(rule: Rule, org: Organisation) -> str | None:
    after = dt.date.fromisoformat(rule["date"])
    if org.founded is None:
        return f"the organisation must give its founding date (founded after {after})"
    if org.founded <= after:
        return f"open to organisations founded after {after} (this one: {org.founded})"
    return None


def _founded_before(rule: Rule, org: Organisation) -> str | None:
    before = dt.date.fromisoformat(rule["date"])
    if org.founded is None or org.founded >= before:
        return f"open to organisations founded before {before}"
    return None


CHECKS: dict[str, Callable[[Rule, Organisation], str | None]] = {
    "organisation_kind": _kind,
    "founded_after": _founded_after,
    "founded_before": _founded_before,
}


def rules_clean(rules: object) -> list[Rule]:
    """Validate a list of rules; ValidationError names ``eligibility[i]``."""
    if not isinstance(rules, list):
        raise ValidationError("a list of rules", field="eligibility")
    cleaned: list[Rule] = []
    for i, rule in enumerate(rules):
        field = f"eligibility[{i}]"
        if not isinstance(rule, dict) or rule.get("rule") not in CHECKS:
            raise ValidationError(f"rule must be one of: {', '.join(CHECKS)}", field=field)
        name = rule["rule"]
        if name == "organisation_kind":
            kinds = rule.get("kinds")
            if not kinds or not all(k in OrganisationKind.values for k in kinds):
                raise ValidationError("kinds: a list of organisation kinds", field=field)
            cleaned.append({"rule": name, "kinds": list(kinds)})
        else:
            try:
                day = dt.date.fromisoformat(str(rule.get("date")))
            except ValueError as exc:
                raise ValidationError("date: an ISO date (YYYY-MM-DD)", field=field) from exc
            cleaned.append({"rule": name, "date": day.isoformat()})
    return cleaned


def check(rules: list[Rule], organisation: Organisation) -> str | None:
    """None when the organisation is eligible, else the reason it is not."""
    for rule in rules:
        reason = CHECKS[rule["rule"]](rule, organisation)
        if reason:
            return reason
    return None


def describe(rules: list[Rule]) -> list[str]:
    out = []
    for rule in rules:
        if rule["rule"] == "organisation_kind":
            out.append(f"Organisation kind: {', '.join(rule['kinds'])}")
        elif rule["rule"] == "founded_after":
            out.append(f"Founded after {rule['date']}")
        else:
            out.append(f"Founded before {rule['date']}")
    return out
