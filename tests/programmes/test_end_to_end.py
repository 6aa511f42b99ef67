"""One intake walked end to end, and an exit whose proceeds pay for the next intake."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest

from ailab.accounts.models import OrganisationKind, Role
from ailab.common.errors import QuotaExceeded
from ailab.compute.models import Allocation
from ailab.fund import selectors as fund_selectors
from ailab.fund import services as fund_services
from ailab.fund.models import EntryKind, LedgerEntry
from ailab.programmes import selectors, services
from ailab.programmes.models import (
    Application,
    ApplicationStatus,
    Participation,
    ParticipationStatus,
    ProgrammeKind,
    ReviewAssignment,
)
from tests.fund import factories
from tests.programmes.conftest import answers_for

pytestmark = pytest.mark.django_db
START = dt.date(2025, 3, 1)


def _apply(intake, n):  # type: ignore[no-untyped-def]
    apps = []
    for i in range(n):
        org = factories.organisation(f"Startup {i:02d}", founded=dt.date(2022, 1, 1))
        owner = factories.founder(org, f"founder{i}@startup{i}.example")
        app = services.application_create(
            actor=owner,
            intake=intake,
            organisation=org,
            answers=answers_for(intake),
            team=[{"name": f"Founder {i}", "role": "CEO"}],
            gpu_hours_requested=1000,
            compute_justification="fine-tuning",
        )
        apps.append(services.application_submit(actor=owner, application=app))
    return apps


def _reviewers(n):  # type: ignore[no-untyped-def]
    company = factories.organisation("Review Panel", kind=OrganisationKind.COMPANY)
    out = []
    for i in range(n):
        u = factories.user(f"reviewer{i}@panel.example")
        factories.member(u, company, Role.REVIEWER)
        out.append(u)
    return out


def test_one_intake_end_to_end(
    staff, make_intake, incubation, investor, django_capture_on_commit_callbacks, mailoutbox
):  # type: ignore[no-untyped-def]
    """25 applications, 8 reviewers (3 with conflicts), 3 reviews each, a z-score ranking,
    8 selected within capacity and cash, awards that write the fund's entries, grant
    allocations and start participations, then milestones, a demo day and graduation."""
    lp = factories.organisation("Harbour LP", kind=OrganisationKind.INVESTOR)
    fund = factories.fund(staff, "1000000", lp=lp)
    intake = make_intake(fund=fund)
    apps = _apply(intake, 25)
    reviewers = _reviewers(8)
    # Conflicts: a member of applicant 0; a declared conflict with 1; an LP member of a fund
    # already holding equity in applicant 2.
    factories.member(reviewers[0], apps[0].organisation)
    services.conflict_declare(
        actor=reviewers[1], organisation=apps[1].organisation, reason="former advisor"
    )
    factories.member(reviewers[2], lp)
    fund_services.investment_record(
        actor=staff,
        fund=fund,
        organisation=apps[2].organisation,
        amount=Decimal("50000"),
        equity_pct=Decimal("5"),
        on=dt.date(2024, 6, 1),
    )

    result = services.review_auto_assign(
        actor=staff, intake=intake, per_application=3, max_per_reviewer=10, reviewers=reviewers
    )
    assert result.shortfall == {}
    assert len(result.created) == 75
    assert max(result.load.values()) <= 10
    for app in apps:
        assigned = set(
            ReviewAssignment.objects.filter(application=app).values_list("reviewer_id", flat=True)
        )
        assert len(assigned) == 3
    for conflicted, app in zip(reviewers[:3], apps[:3], strict=True):
        assert not ReviewAssignment.objects.filter(application=app, reviewer=conflicted).exists()

    # Each application has a quality; reviewers differ in harshness.
    rng = random.Random(5)
    quality = {a.pk: 1 + (i * 7 % 25) / 6 for i, a in enumerate(apps)}
    harsh = {r.pk: rng.choice([-1, 0, 0, 1]) for r in reviewers}
    for reviewer in reviewers:
        for assignment in selectors.assignment_list_for(reviewer):
            base = quality[assignment.application_id] + harsh[reviewer.pk]
            score = max(1, min(5, round(base)))
            services.review_submit(
                actor=reviewer,
                assignment=assignment,
                confidence=4,
                comments="ok",
                scores={c.name: score for c in intake.criteria.all()},
            )

    ranking = selectors.intake_ranking(intake=intake)
    assert len(ranking) == 25
    assert all(row.reviews_submitted == 3 and row.missing == 0 for row in ranking)
    assert [r.rank for r in ranking] == sorted(r.rank for r in ranking)
    held = apps[2].pk
    chosen = [r.application.pk for r in ranking if r.application.pk != held][:8]

    with django_capture_on_commit_callbacks(execute=True):
        decided = services.selection_decide(
            actor=staff, intake=intake, accept=chosen, reject_rest=True, message=""
        )
    assert len(decided["accepted"]) == 8
    assert len(decided["rejected"]) == 17
    assert len(mailoutbox) == 25
    assert any("selected" in m.body for m in mailoutbox)

    participations = services.awards_grant(actor=staff, intake=intake, on=START)
    assert len(participations) == 8
    investments = LedgerEntry.objects.filter(fund=fund, kind=EntryKind.INVESTMENT)
    assert investments.count() == 9  # eight awards and the earlier holding
    balances = fund_selectors.fund_balances(fund=fund)
    assert balances.deployed == Decimal("850000.00")
    assert balances.available == Decimal("150000.00")
    first = participations[0]
    assert first.holding is not None
    assert first.holding.post_money_valuation == Decimal("1666666.67")
    assert str(first.holding.post_money_valuation) == "1666666.67"
    assert Allocation.objects.filter(pk__in=[p.allocation_id for p in participations]).count() == 8
    assert first.allocation.budget_gpu_seconds == 2000 * 3600
    assert first.allocation.ends_on == dt.date(2025, 8, 31)

    cohort = first.cohort
    assert cohort.milestones.count() == 6
    assert first.check_ins.count() == 6
    mentor = factories.user("mentor@example.com")
    services.mentor_assign(actor=staff, participation=first, mentor=mentor, focus="GTM")
    founder = first.organisation.memberships.get(role=Role.FOUNDER).user
    check_in = first.check_ins.get(month=1)
    services.check_in_report(actor=founder, check_in=check_in, summary="10 interviews")
    check_in.refresh_from_db()
    assert check_in.reported_by == founder
    assert check_in.reported_at is not None

    services.demo_day_schedule(
        actor=staff,
        cohort=cohort,
        held_at=dt.datetime(2025, 8, 20, 6, tzinfo=dt.UTC),
        venue="Science Park",
        investors=[investor],
    )
    assert selectors.cohort_list_visible_to(investor).filter(pk=cohort.pk).exists()
    assert not selectors.application_list_visible_to(investor).exists()

    for p in participations:
        services.participation_graduate(actor=staff, participation=p, on=dt.date(2025, 9, 1))
    incubating = Participation.objects.filter(programme__kind=ProgrammeKind.INCUBATION)
    assert incubating.count() == 8
    assert all(p.previous.status == ParticipationStatus.GRADUATED for p in incubating)
    assert Application.objects.filter(status=ApplicationStatus.ACCEPTED).count() == 8


def test_exit_proceeds_are_available_to_the_next_intake(staff, make_intake):  # type: ignore[no-untyped-def]
    """With the fund spent, the next intake's selection is refused (naming the cash); after an
    exit the proceeds pay for it, and the projection counts the awards they fund."""
    fund = factories.fund(staff, "200000")
    first = make_intake(fund=fund, title="2025 spring")
    apps = _apply(first, 2)
    for app in apps:
        Application.objects.filter(pk=app.pk).update(status=ApplicationStatus.UNDER_REVIEW)
    services.selection_decide(actor=staff, intake=first, accept=[a.pk for a in apps])
    parts = services.awards_grant(actor=staff, intake=first, on=START)
    assert fund_selectors.fund_balances(fund=fund).available == Decimal("0.00")

    second = make_intake(fund=fund, title="2025 autumn")
    org = factories.organisation("Next Gen AI")
    owner = factories.founder(org)
    nxt = services.application_create(
        actor=owner, intake=second, organisation=org, answers=answers_for(second)
    )
    services.application_submit(actor=owner, application=nxt)
    Application.objects.filter(pk=nxt.pk).update(status=ApplicationStatus.UNDER_REVIEW)
    with pytest.raises(QuotaExceeded) as refused:
        services.selection_decide(actor=staff, intake=second, accept=[nxt.pk])
    assert refused.value.field == "accept"
    assert "US$0.00 available" in refused.value.reason
    assert (
        fund_selectors.fund_projection(
            fund=fund, award_amount=Decimal("100000"), award_currency="USD"
        )
        == 0
    )

    fund_services.exit_record(
        actor=staff, holding=parts[0].holding, proceeds=Decimal("450000"), on=dt.date(2025, 10, 1)
    )
    assert (
        fund_selectors.fund_projection(
            fund=fund, award_amount=Decimal("100000"), award_currency="USD"
        )
        == 4
    )
    services.selection_decide(actor=staff, intake=second, accept=[nxt.pk])
    services.awards_grant(actor=staff, intake=second, on=dt.date(2025, 11, 1))
    balances = fund_selectors.fund_balances(fund=fund)
    assert balances.available == Decimal("350000.00")
    assert balances.recycled == Decimal("100000.00")
    assert balances.realised == Decimal("450000.00")
