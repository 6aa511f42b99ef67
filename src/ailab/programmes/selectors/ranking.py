"""The ranking of an intake's applications, with each reviewer's scores normalised.

A review's raw score is the weighted mean of its criterion scores, rescaled to 0..1 on each
criterion's scale. Each reviewer's raw scores become z-scores over that reviewer's own
reviews in the intake, so a harsh reviewer does not sink an application. A reviewer with a
single review, or identical scores throughout, gives z = 0 (no information about spread),
and the row says so. Missing reviews and ties are flagged, never silently dropped.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from ailab.programmes.models import Application, ApplicationStatus, Intake, Review

RANKED = (
    ApplicationStatus.UNDER_REVIEW,
    ApplicationStatus.SHORTLISTED,
    ApplicationStatus.ACCEPTED,
    ApplicationStatus.WAITLISTED,
)


def review_raw_score(review: Review) -> float:
    """Weighted mean of the criterion scores, each rescaled to 0..1 on its scale."""
    total_weight = Decimal(0)
    total = Decimal(0)
    for s in review.scores.all():
        c = s.criterion
        span = Decimal(c.scale_max - c.scale_min)
        total += c.weight * (Decimal(s.score - c.scale_min) / span)
        total_weight += c.weight
    return float(total / total_weight) if total_weight else 0.0


@dataclass
class RankRow:
    application: Application
    rank: int = 0
    score: float | None = None  # mean z-score; None without any review
    raw_mean: float | None = None
    reviews_submitted: int = 0
    reviews_assigned: int = 0
    tied: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def missing(self) -> int:
        return self.reviews_assigned - self.reviews_submitted


def _z_scores(
    raw: dict[int, list[tuple[int, float]]],
) -> tuple[dict[tuple[int, int], float], set[int]]:
    """(reviewer, application) -> z; and the reviewers whose spread is unknown."""
    z: dict[tuple[int, int], float] = {}
    flat: set[int] = set()
    for reviewer_id, pairs in raw.items():
        values = [v for _, v in pairs]
        sd = statistics.pstdev(values) if len(values) > 1 else 0.0
        mean = statistics.fmean(values)
        if sd == 0:
            flat.add(reviewer_id)
        for app_id, v in pairs:
            z[(reviewer_id, app_id)] = 0.0 if sd == 0 else (v - mean) / sd
    return z, flat


def intake_ranking(*, intake: Intake) -> list[RankRow]:
    """Applications best first: by mean z-score, ties sharing a rank (then by raw mean, id)."""
    apps = list(
        Application.objects.filter(intake=intake, status__in=RANKED)
        .select_related("organisation")
        .prefetch_related("assignments")
    )
    reviews = list(
        Review.objects.filter(assignment__application__intake=intake)
        .select_related("assignment")
        .prefetch_related("scores__criterion")
    )
    raw: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for r in reviews:
        raw[r.assignment.reviewer_id].append((r.assignment.application_id, review_raw_score(r)))
    z, flat = _z_scores(raw)
    rows = {a.pk: RankRow(a, reviews_assigned=len(a.assignments.all())) for a in apps}
    per_app: dict[int, list[tuple[int, float, float]]] = defaultdict(list)
    for reviewer_id, pairs in raw.items():
        for app_id, value in pairs:
            per_app[app_id].append((reviewer_id, value, z[(reviewer_id, app_id)]))
    for app_id, row in rows.items():
        entries = per_app.get(app_id, [])
        row.reviews_submitted = len(entries)
        if entries:
            row.score = round(statistics.fmean(e[2] for e in entries), 6)
            row.raw_mean = round(statistics.fmean(e[1] for e in entries), 6)
            if any(e[0] in flat for e in entries):
                row.notes.append("a reviewer's scores have no spread (z = 0)")
        else:
            row.notes.append("no reviews yet: unranked")
        if row.missing:
            row.notes.append(f"{row.missing} review(s) missing")
    return _order(list(rows.values()))


def _order(rows: list[RankRow]) -> list[RankRow]:
    scored = sorted(
        (r for r in rows if r.score is not None),
        key=lambda r: (-(r.score or 0), -(r.raw_mean or 0), r.application.pk),
    )
    rank = 0
    previous: float | None = None
    for i, row in enumerate(scored, start=1):
        if row.score != previous:
            rank, previous = i, row.score
        row.rank = rank
    counts: dict[int, int] = defaultdict(int)
    for row in scored:
        counts[row.rank] += 1
    for row in scored:
        if counts[row.rank] > 1:
            row.tied = True
            row.notes.append(f"tied at rank {row.rank}")
    unscored = sorted((r for r in rows if r.score is None), key=lambda r: r.application.pk)
    return scored + unscored
