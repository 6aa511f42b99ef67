"""Parsing the pages' POST data into service arguments (views stay thin)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import QueryDict
from django.utils import timezone

from ailab.common.errors import ValidationError
from ailab.programmes.models import Intake


def answers_from(post: QueryDict, intake: Intake) -> dict[str, str]:
    return {str(q.pk): post.get(f"answer_{q.pk}", "") for q in intake.questions.all()}


def team_from(text: str) -> list[dict[str, str]]:
    """One member per line: ``name, email, role`` (email and role optional)."""
    team = []
    for line in (text or "").splitlines():
        parts = [p.strip() for p in line.split(",")]
        if parts and parts[0]:
            team.append(
                {
                    "name": parts[0],
                    "email": parts[1] if len(parts) > 1 else "",
                    "role": parts[2] if len(parts) > 2 else "",
                }
            )
    return team


def int_from(post: QueryDict, name: str, default: int = 0) -> int:
    raw = (post.get(name) or "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValidationError("a whole number", field=name) from exc


def scores_from(post: QueryDict, intake: Intake) -> dict[str, Any]:
    scores: dict[str, Any] = {}
    for c in intake.criteria.all():
        raw = post.get(f"score_{c.pk}", "")
        try:
            scores[c.name] = int(raw)
        except ValueError as exc:
            raise ValidationError("choose a score", field=f"scores.{c.name}") from exc
    return scores


def local_datetime(post: QueryDict, name: str) -> dt.datetime:
    """A ``datetime-local`` input, read in the lab's time zone (settings.TIME_ZONE)."""
    raw = (post.get(name) or "").strip()
    try:
        naive = dt.datetime.fromisoformat(raw)
    except ValueError as exc:
        raise ValidationError("a date and time (YYYY-MM-DDTHH:MM)", field=name) from exc
    return timezone.make_aware(naive, timezone.get_default_timezone())


def rubric_from(text: str) -> list[dict[str, str]]:
    """One criterion per line: ``name, weight`` (weight optional, default 1)."""
    rubric = []
    for line in (text or "").splitlines():
        name, _, weight = line.partition(",")
        if name.strip():
            rubric.append({"name": name.strip(), "weight": weight.strip() or "1"})
    return rubric


def questions_from(text: str) -> list[dict[str, Any]]:
    """One question per line; a line starting with ``(optional)`` is not required."""
    questions: list[dict[str, Any]] = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        optional = line.lower().startswith("(optional)")
        text_ = line[len("(optional)") :].strip() if optional else line
        questions.append({"text": text_, "required": not optional})
    return questions


def eligibility_from(post: QueryDict) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    kinds = post.getlist("kinds")
    if kinds:
        rules.append({"rule": "organisation_kind", "kinds": kinds})
    founded_after = (post.get("founded_after") or "").strip()
    if founded_after:
        rules.append({"rule": "founded_after", "date": founded_after})
    return rules
