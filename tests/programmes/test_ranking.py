"""The ranking: z-scores per reviewer, ties and missing reviews shown, never hidden."""

from __future__ import annotations

import pytest

from ailab.accounts.models import Role
from ailab.programmes import selectors, services
from tests.fund import factories
from tests.programmes.conftest import answers_for, scores_for

pytestmark = pytest.mark.django_db


def _apps(intake, n):  # type: ignore[no-untyped-def]
    apps = []
    for i in range(n):
        org = factories.organisation(f"Ranked {i}")
        f = factories.founder(org)
        a = services.application_create(
            actor=f, intake=intake, organisation=org, answers=answers_for(intake)
        )
        apps.append(services.application_submit(actor=f, application=a))
    return apps


def _reviewers(n):  # type: ignore[no-untyped-def]
    company = factories.organisation("Panel", kind="company")
    out = []
    for _ in range(n):
        u = factories.user()
        factories.member(u, company, Role.REVIEWER)
        out.append(u)
    return out


def _score(staff, app, reviewer, intake, value):  # type: ignore[no-untyped-def]
    a = services.review_assign(actor=staff, application=app, reviewer=reviewer)
    services.review_submit(
        actor=reviewer, assignment=a, scores=scores_for(intake, value), confidence=3
    )


def test_harsh_reviewer_does_not_sink_an_application(staff, make_intake) -> None:  # type: ignore[no-untyped-def]
    """A harsh reviewer's 3 for their best application counts as much as a lenient
    reviewer's 5 for theirs: z-scores per reviewer put A (harsh reviewer's top) level with
    B (lenient reviewer's top), above C and D; raw means alone would rank B far above A."""
    intake = make_intake()
    a, b, c, d = _apps(intake, 4)
    harsh, lenient = _reviewers(2)
    _score(staff, a, harsh, intake, 3)
    _score(staff, c, harsh, intake, 1)
    _score(staff, b, lenient, intake, 5)
    _score(staff, d, lenient, intake, 3)
    rows = {r.application.pk: r for r in selectors.intake_ranking(intake=intake)}
    assert rows[a.pk].score == pytest.approx(1.0)
    assert rows[b.pk].score == pytest.approx(1.0)
    assert rows[a.pk].rank == rows[b.pk].rank == 1
    assert rows[a.pk].tied
    assert "tied at rank 1" in rows[a.pk].notes
    assert rows[c.pk].rank == 3
    assert rows[a.pk].raw_mean < rows[b.pk].raw_mean


def test_missing_reviews_and_unranked_are_visible(staff, make_intake) -> None:  # type: ignore[no-untyped-def]
    """An application with a missing review says so; one with none is listed last, unranked."""
    intake = make_intake()
    a, b, c = _apps(intake, 3)
    r1, r2 = _reviewers(2)
    _score(staff, a, r1, intake, 4)
    _score(staff, b, r1, intake, 2)
    services.review_assign(actor=staff, application=a, reviewer=r2)  # never submitted
    services.review_assign(actor=staff, application=c, reviewer=r2)
    ranking = selectors.intake_ranking(intake=intake)
    rows = {r.application.pk: r for r in ranking}
    assert rows[a.pk].missing == 1
    assert "1 review(s) missing" in rows[a.pk].notes
    assert ranking[-1].application.pk == c.pk
    assert rows[c.pk].rank == 0
    assert rows[c.pk].score is None
    assert "no reviews yet: unranked" in rows[c.pk].notes


def test_flat_reviewer_is_flagged(staff, make_intake) -> None:  # type: ignore[no-untyped-def]
    """A reviewer who gave everything the same score contributes z = 0, and the row says so."""
    intake = make_intake()
    a, b = _apps(intake, 2)
    [r] = _reviewers(1)
    _score(staff, a, r, intake, 4)
    _score(staff, b, r, intake, 4)
    rows = selectors.intake_ranking(intake=intake)
    assert all(row.score == 0 for row in rows)
    assert all("no spread" in " ".join(row.notes) for row in rows)


def test_auto_assign_reports_shortfall(staff, make_intake) -> None:  # type: ignore[no-untyped-def]
    """With too few reviewers for k per application, the shortfall is reported per
    application and no reviewer exceeds m."""
    intake = make_intake()
    apps = _apps(intake, 4)
    reviewers = _reviewers(2)
    result = services.review_auto_assign(
        actor=staff, intake=intake, per_application=3, max_per_reviewer=3, reviewers=reviewers
    )
    assert max(result.load.values()) <= 3
    assert len(result.created) == 6
    assert sum(result.shortfall.values()) == 4 * 3 - 6
    assert set(result.shortfall) <= {a.pk for a in apps}
