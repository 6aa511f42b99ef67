"""Every access_<entity> in programmes, for every role: staff, the applicant (founder and
member), another applicant, an assigned reviewer, an unassigned reviewer, a conflicted
reviewer, a mentor, an investor and an anonymous visitor."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.contrib.auth.models import AnonymousUser

from ailab.accounts.models import OrganisationKind, Role
from ailab.common.errors import NotAuthenticated, NotFound, PermissionDenied
from ailab.programmes import selectors, services
from ailab.programmes.models import Application, ApplicationStatus
from tests.fund import factories
from tests.programmes.conftest import answers_for, scores_for

pytestmark = pytest.mark.django_db


def _reviewer(email):  # type: ignore[no-untyped-def]
    u = factories.user(email)
    factories.member(u, factories.organisation(f"Co {email}", kind="company"), Role.REVIEWER)
    return u


@pytest.fixture
def w(staff, make_intake, investor):  # type: ignore[no-untyped-def]
    fund = factories.fund(staff, "1000000")
    intake = make_intake(fund=fund)
    org_a, org_b = factories.organisation("Alpha AI"), factories.organisation("Beta AI")
    founder_a, founder_b = factories.founder(org_a), factories.founder(org_b)
    member_a = factories.user()
    factories.member(member_a, org_a, Role.MEMBER)
    apps = {}
    for org, founder in ((org_a, founder_a), (org_b, founder_b)):
        app = services.application_create(
            actor=founder, intake=intake, organisation=org, answers=answers_for(intake)
        )
        apps[org.pk] = services.application_submit(actor=founder, application=app)
    app_a, app_b = apps[org_a.pk], apps[org_b.pk]
    r_assigned, r_second, r_other, r_conflicted = (
        _reviewer(f"{n}@rev.example") for n in ("assigned", "second", "other", "conflicted")
    )
    a_assigned = services.review_assign(actor=staff, application=app_a, reviewer=r_assigned)
    a_second = services.review_assign(actor=staff, application=app_a, reviewer=r_second)
    services.review_assign(actor=staff, application=app_b, reviewer=r_other)
    a_conflicted = services.review_assign(actor=staff, application=app_a, reviewer=r_conflicted)
    services.conflict_declare(actor=r_conflicted, organisation=org_a, reason="co-founder's sibling")
    return {
        "intake": intake,
        "app_a": app_a,
        "app_b": app_b,
        "founder_a": founder_a,
        "member_a": member_a,
        "founder_b": founder_b,
        "r_assigned": r_assigned,
        "r_second": r_second,
        "r_other": r_other,
        "r_conflicted": r_conflicted,
        "a_assigned": a_assigned,
        "a_second": a_second,
        "a_conflicted": a_conflicted,
        "investor": investor,
        "staff": staff,
    }


def _pdf(name: str = "deck.pdf", body: bytes = b"%PDF-1.7\n%%EOF\n"):  # type: ignore[no-untyped-def]
    f = io.BytesIO(body)
    f.name = name
    f.size = len(body)  # type: ignore[attr-defined]
    return f


# Applications ---------------------------------------------------------------------

SEES_A = ["staff", "founder_a", "member_a", "r_assigned", "r_second"]
NOT_A = ["founder_b", "r_other", "r_conflicted", "investor"]


@pytest.mark.parametrize("who", SEES_A)
def test_application_visible_to(w, who) -> None:  # type: ignore[no-untyped-def]
    """Staff, the applicant's members and its unconflicted reviewers see the application."""
    assert selectors.access_application(w[who], w["app_a"].pk) == w["app_a"]
    assert selectors.application_list_visible_to(w[who]).filter(pk=w["app_a"].pk).exists()


@pytest.mark.parametrize("who", NOT_A)
def test_application_hidden_from(w, who) -> None:  # type: ignore[no-untyped-def]
    """Another applicant, an unassigned reviewer, a conflicted reviewer and an investor get
    NotFound, and the application is not in their list."""
    with pytest.raises(NotFound):
        selectors.access_application(w[who], w["app_a"].pk)
    assert not selectors.application_list_visible_to(w[who]).filter(pk=w["app_a"].pk).exists()


def test_investor_sees_no_applications(w) -> None:  # type: ignore[no-untyped-def]
    """An investor's application list is empty."""
    assert not selectors.application_list_visible_to(w["investor"]).exists()


def test_reviewer_cannot_change_application(w) -> None:  # type: ignore[no-untyped-def]
    """An assigned reviewer may view but not change the application."""
    with pytest.raises(NotFound):
        selectors.access_application(w["r_assigned"], w["app_a"].pk, selectors.CHANGE)


def test_anonymous_must_log_in(w) -> None:  # type: ignore[no-untyped-def]
    """Anonymous visitors get NotAuthenticated for applications, reviews and cohorts."""
    anon = AnonymousUser()
    for call in (
        lambda: selectors.access_application(anon, w["app_a"].pk),
        lambda: selectors.access_assignment(anon, w["a_assigned"].pk),
        lambda: selectors.cohort_list_visible_to(anon),
        lambda: selectors.access_attachment(anon, 1),
    ):
        with pytest.raises(NotAuthenticated):
            call()


@pytest.mark.parametrize(
    ("who", "visible"),
    [
        ("staff", True),
        ("founder_a", True),
        ("member_a", True),
        ("r_assigned", True),
        ("founder_b", False),
        ("r_other", False),
        ("r_conflicted", False),
        ("investor", False),
    ],
)
def test_attachment_follows_application(w, who, visible) -> None:  # type: ignore[no-untyped-def]
    """An attachment is visible exactly when its application is."""
    Application.objects.filter(pk=w["app_a"].pk).update(status=ApplicationStatus.DRAFT)
    att = services.attachment_add(actor=w["founder_a"], application=w["app_a"], upload=_pdf())
    if visible:
        assert selectors.access_attachment(w[who], att.pk) == att
    else:
        with pytest.raises(NotFound):
            selectors.access_attachment(w[who], att.pk)


# Review ------------------------------------------------------------------------------


def test_reviewer_sees_only_own_unconflicted_assignments(w) -> None:  # type: ignore[no-untyped-def]
    """assignment_list_for lists the reviewer's own assignments, never conflicted ones."""
    assert list(selectors.assignment_list_for(w["r_assigned"])) == [w["a_assigned"]]
    assert not selectors.assignment_list_for(w["r_conflicted"]).exists()


@pytest.mark.parametrize(
    ("who", "ok"),
    [
        ("staff", True),
        ("r_assigned", True),
        ("r_second", False),
        ("r_conflicted", False),
        ("founder_a", False),
        ("investor", False),
    ],
)
def test_access_assignment(w, who, ok) -> None:  # type: ignore[no-untyped-def]
    """An assignment is visible to its reviewer and staff only; a conflict hides it."""
    if ok:
        assert selectors.access_assignment(w[who], w["a_assigned"].pk)
    else:
        with pytest.raises(NotFound):
            selectors.access_assignment(w[who], w["a_assigned"].pk)
    with pytest.raises(NotFound):
        selectors.access_assignment(w["r_conflicted"], w["a_conflicted"].pk)


def test_other_scores_hidden_until_own_review(w) -> None:  # type: ignore[no-untyped-def]
    """A reviewer sees no other reviewer's scores until they have submitted their own."""
    intake = w["intake"]
    second = services.review_submit(
        actor=w["r_second"], assignment=w["a_second"], scores=scores_for(intake, 4), confidence=3
    )
    before = selectors.review_list_visible_to(w["r_assigned"], application=w["app_a"])
    assert not before.exists()
    with pytest.raises(NotFound):
        selectors.access_review(w["r_assigned"], second.pk)
    mine = services.review_submit(
        actor=w["r_assigned"],
        assignment=w["a_assigned"],
        scores=scores_for(intake, 2),
        confidence=4,
    )
    after = selectors.review_list_visible_to(w["r_assigned"], application=w["app_a"])
    assert set(after) == {second, mine}
    assert selectors.access_review(w["r_assigned"], second.pk) == second
    assert set(selectors.review_list_visible_to(w["staff"], application=w["app_a"])) == {
        second,
        mine,
    }


@pytest.mark.parametrize("who", ["founder_a", "member_a", "investor", "r_other", "r_conflicted"])
def test_reviews_hidden_from_non_reviewers(w, who) -> None:  # type: ignore[no-untyped-def]
    """Applicants, investors, unassigned and conflicted reviewers see no reviews."""
    review = services.review_submit(
        actor=w["r_second"],
        assignment=w["a_second"],
        scores=scores_for(w["intake"], 4),
        confidence=3,
    )
    with pytest.raises(PermissionDenied):
        selectors.review_list_visible_to(w[who], application=w["app_a"])
    with pytest.raises(NotFound):
        selectors.access_review(w[who], review.pk)


def test_conflicted_reviewer_cannot_review(w) -> None:  # type: ignore[no-untyped-def]
    """A conflict declared after assignment stops the review."""
    with pytest.raises(PermissionDenied):
        services.review_submit(
            actor=w["r_conflicted"],
            assignment=w["a_conflicted"],
            scores=scores_for(w["intake"], 3),
            confidence=3,
        )


def test_staff_assignment_refuses_conflicts(w) -> None:  # type: ignore[no-untyped-def]
    """Staff cannot assign a reviewer who is a member of the applicant."""
    from ailab.common.errors import Conflict

    with pytest.raises(Conflict) as err:
        services.review_assign(actor=w["staff"], application=w["app_a"], reviewer=w["member_a"])
    assert err.value.field == "reviewer_id"


# Intakes and programmes: public -------------------------------------------------------


@pytest.mark.parametrize("who", ["staff", "founder_a", "investor", "r_other", "anon"])
def test_intakes_are_public(w, who) -> None:  # type: ignore[no-untyped-def]
    """Anyone, logged in or not, sees a call and its programme; only staff change them."""
    user = AnonymousUser() if who == "anon" else w[who]
    intake = selectors.access_intake(user, w["intake"].pk)
    assert selectors.access_programme(user, intake.programme_id)
    if who == "staff":
        assert selectors.access_intake(user, intake.pk, selectors.CHANGE)
        assert selectors.access_programme(user, intake.programme_id, selectors.CHANGE)
    elif who == "anon":
        with pytest.raises(NotAuthenticated):
            selectors.access_intake(user, intake.pk, selectors.CHANGE)
    else:
        with pytest.raises(PermissionDenied):
            selectors.access_intake(user, intake.pk, selectors.CHANGE)
        with pytest.raises(PermissionDenied):
            selectors.access_programme(user, intake.programme_id, selectors.CHANGE)


def test_unknown_intake_not_found(w) -> None:  # type: ignore[no-untyped-def]
    """An unknown intake is NotFound naming intake_id."""
    with pytest.raises(NotFound) as err:
        selectors.access_intake(w["staff"], 999999)
    assert err.value.field == "intake_id"


# Cohorts ----------------------------------------------------------------------------


@pytest.fixture
def cohort_world(w):  # type: ignore[no-untyped-def]
    staff = w["staff"]
    services.selection_decide(actor=staff, intake=w["intake"], accept=[w["app_a"].pk])
    participation = services.award_grant(
        actor=staff, application=w["app_a"], on=dt.date(2025, 3, 1)
    )
    mentor = factories.user("mentor@example.com")
    services.mentor_assign(actor=staff, participation=participation, mentor=mentor)
    w.update(
        participation=participation,
        cohort=participation.cohort,
        mentor=mentor,
        check_in=participation.check_ins.first(),
    )
    return w


COHORT_SEES = ["staff", "founder_a", "member_a", "mentor"]
COHORT_NOT = ["founder_b", "r_assigned", "investor"]


@pytest.mark.parametrize("who", COHORT_SEES)
def test_cohort_visible(cohort_world, who) -> None:  # type: ignore[no-untyped-def]
    """Staff, the team and its mentor see the cohort, the participation and check-ins."""
    w = cohort_world
    assert selectors.access_cohort(w[who], w["cohort"].pk)
    assert selectors.access_participation(w[who], w["participation"].pk)
    assert selectors.access_check_in(w[who], w["check_in"].pk)


@pytest.mark.parametrize("who", COHORT_NOT)
def test_cohort_hidden_before_demo_day(cohort_world, who) -> None:  # type: ignore[no-untyped-def]
    """Another applicant, a reviewer and (before a demo day) an investor see no cohort."""
    w = cohort_world
    for call in (
        lambda: selectors.access_cohort(w[who], w["cohort"].pk),
        lambda: selectors.access_participation(w[who], w["participation"].pk),
        lambda: selectors.access_check_in(w[who], w["check_in"].pk),
    ):
        with pytest.raises(NotFound):
            call()


def test_investor_sees_graduating_cohort_and_demo_day(cohort_world) -> None:  # type: ignore[no-untyped-def]
    """With a demo day scheduled, investors see the cohort, its teams and the demo day,
    but still no application and no check-in."""
    w = cohort_world
    demo = services.demo_day_schedule(
        actor=w["staff"],
        cohort=w["cohort"],
        held_at=dt.datetime(2025, 8, 20, tzinfo=dt.UTC),
        investors=[w["investor"]],
    )
    investor = w["investor"]
    assert selectors.access_cohort(investor, w["cohort"].pk)
    assert selectors.access_participation(investor, w["participation"].pk)
    assert selectors.access_demo_day(investor, demo.pk) == demo
    with pytest.raises(NotFound):
        selectors.access_check_in(investor, w["check_in"].pk)
    with pytest.raises(NotFound):
        selectors.access_application(investor, w["app_a"].pk)
    with pytest.raises(PermissionDenied):
        selectors.access_cohort(investor, w["cohort"].pk, selectors.CHANGE)
    with pytest.raises(PermissionDenied):
        selectors.access_participation(investor, w["participation"].pk, selectors.CHANGE)


@pytest.mark.parametrize(
    ("who", "ok"),
    [
        ("staff", True),
        ("founder_a", True),
        ("mentor", True),
        ("founder_b", False),
        ("r_assigned", False),
    ],
)
def test_access_demo_day(cohort_world, who, ok) -> None:  # type: ignore[no-untyped-def]
    """The demo day: staff, the cohort's teams and mentors (and investors, above)."""
    w = cohort_world
    demo = services.demo_day_schedule(
        actor=w["staff"], cohort=w["cohort"], held_at=dt.datetime(2025, 8, 20, tzinfo=dt.UTC)
    )
    if ok:
        assert selectors.access_demo_day(w[who], demo.pk) == demo
    else:
        with pytest.raises(NotFound):
            selectors.access_demo_day(w[who], demo.pk)


def test_mentor_views_but_does_not_change(cohort_world) -> None:  # type: ignore[no-untyped-def]
    """A mentor may not change the participation or its check-ins."""
    w = cohort_world
    with pytest.raises(PermissionDenied):
        selectors.access_participation(w["mentor"], w["participation"].pk, selectors.CHANGE)
    with pytest.raises(NotFound):
        selectors.access_check_in(w["mentor"], w["check_in"].pk, selectors.CHANGE)


def test_other_investor_org_kind_irrelevant(w) -> None:  # type: ignore[no-untyped-def]
    """A startup founder who is also no investor sees no cohorts at all."""
    org = factories.organisation("Gamma", kind=OrganisationKind.STARTUP)
    assert not selectors.cohort_list_visible_to(factories.founder(org)).exists()


def test_mentor_sees_no_application(cohort_world) -> None:  # type: ignore[no-untyped-def]
    """A mentor sees the team's cohort, not its application or reviews."""
    w = cohort_world
    with pytest.raises(NotFound):
        selectors.access_application(w["mentor"], w["app_a"].pk)
    with pytest.raises(PermissionDenied):
        selectors.review_list_visible_to(w["mentor"], application=w["app_a"])


def test_anonymous_sees_no_cohort_entity(cohort_world) -> None:  # type: ignore[no-untyped-def]
    """Anonymous visitors get NotAuthenticated for cohorts, participations, check-ins and
    demo days."""
    w = cohort_world
    demo = services.demo_day_schedule(
        actor=w["staff"], cohort=w["cohort"], held_at=dt.datetime(2025, 8, 20, tzinfo=dt.UTC)
    )
    anon = AnonymousUser()
    for call in (
        lambda: selectors.access_cohort(anon, w["cohort"].pk),
        lambda: selectors.access_participation(anon, w["participation"].pk),
        lambda: selectors.access_check_in(anon, w["check_in"].pk),
        lambda: selectors.access_demo_day(anon, demo.pk),
        lambda: selectors.access_review(anon, 1),
    ):
        with pytest.raises(NotAuthenticated):
            call()
