"""Parsing the pages' POST data into service arguments (views stay thin)."""

from __future__ import annotations

from typing import Any

from django.http import QueryDict

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
