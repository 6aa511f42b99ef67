"""The demo programmes: two past accelerator intakes, reviewed and selected, with cohorts,
allocations and usage; one cohort graduated to incubation; an exit whose proceeds paid for
the second intake; and an open call. Built through the services only, and idempotent.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from ailab.accounts.models import Organisation, OrganisationKind, Role, User
from ailab.accounts.services import (
    membership_create,
    organisation_create,
    organisation_update,
    user_create,
)
from ailab.compute import selectors as compute_selectors
from ailab.compute import services as compute_services
from ailab.fund import selectors as fund_selectors
from ailab.fund import services as fund_services
from ailab.programmes import selectors, services
from ailab.programmes.models import (
    Application,
    ApplicationStatus,
    Intake,
    Participation,
    ParticipationStatus,
    Programme,
    ProgrammeKind,
)

UTC = dt.UTC
FUND_NAME = "HKAI Lab Evergreen Fund"  # built by ailab.fund.demo
RUBRIC = [
    {"name": "Team", "weight": "2", "description": "Founders' depth in AI and in the domain"},
    {"name": "Technology", "weight": "2", "description": "Novelty and defensibility"},
    {"name": "Market", "weight": "1.5", "description": "Size and access in Hong Kong and Asia"},
    {"name": "Compute plan", "weight": "1", "description": "A credible use of the GPU-hours"},
]
QUESTIONS: list[dict[str, Any] | str] = [
    "What do you build, and for whom?",
    "What have you achieved so far (users, revenue, pilots)?",
    "How will you use the lab's GPU-hours?",
    {"text": "Anything else we should know?", "required": False},
]
TERMS = {
    "funding_amount": Decimal("100000"),
    "funding_currency": "USD",
    "equity_pct": Decimal("6"),
    "gpu_hours": 4000,
    "duration_months": 6,
}
STARTUPS = [
    "Kowloon Vision",
    "Lantern NLP",
    "Junk Boat Robotics",
    "Victoria Health AI",
    "Peak Speech",
    "Tsim Sha Tsui Tensor",
    "Sampan Logistics AI",
    "Dim Sum Diffusion",
    "Harbour Fintech AI",
    "Typhoon Forecasting",
    "Star Ferry Agents",
    "Mong Kok Retail AI",
    "Lamma Energy AI",
    "Causeway Legal AI",
    "Sai Kung Bio",
    "Cheung Chau Climate",
    "Tai O Translate",
    "Central Compliance AI",
    "Wan Chai Edge",
    "Aberdeen Ocean AI",
    "Stanley Security AI",
    "Repulse Bay Robotics",
    "Shek O Sensors",
    "Lion Rock Learning",
]


@dataclass(frozen=True)
class IntakePlan:
    title: str
    opens: dt.datetime
    closes: dt.datetime
    award_on: dt.date
    startups: list[str]
    accept: int
    demo_day: dt.datetime
    seed: int


PLANS = [
    IntakePlan(
        "Accelerator 2025 Spring",
        dt.datetime(2025, 3, 3, 1, tzinfo=UTC),
        dt.datetime(2025, 4, 14, 15, 59, tzinfo=UTC),
        dt.date(2025, 5, 5),
        ["VisionLoop", "MedSight", *STARTUPS[:10]],
        7,
        dt.datetime(2025, 10, 30, 7, tzinfo=UTC),
        2025,
    ),
    IntakePlan(
        "Accelerator 2026 Spring",
        dt.datetime(2026, 3, 2, 1, tzinfo=UTC),
        dt.datetime(2026, 4, 27, 15, 59, tzinfo=UTC),
        dt.date(2026, 6, 1),
        STARTUPS[10:24],
        8,
        dt.datetime(2026, 11, 26, 7, tzinfo=UTC),
        2026,
    ),
]
EXIT = ("MedSight", Decimal("650000"), dt.date(2026, 2, 16))
MARKS = [("VisionLoop", Decimal("450000")), ("Typhoon Forecasting", Decimal("250000"))]
WRITE_OFF = ("Peak Speech", dt.date(2026, 9, 30))


def _programmes(ctx: Any) -> tuple[Programme, Programme]:
    existing = {p.kind: p for p in selectors.programme_list()}
    acc = existing.get(ProgrammeKind.ACCELERATOR) or services.programme_create(
        actor=ctx.staff,
        name="HKAI Accelerator",
        kind=ProgrammeKind.ACCELERATOR,
        description="Six months, US$100,000 for 6%, mentoring and GPU-hours, then demo day.",
    )
    inc = existing.get(ProgrammeKind.INCUBATION) or services.programme_create(
        actor=ctx.staff,
        name="HKAI Incubation",
        kind=ProgrammeKind.INCUBATION,
        duration_months=24,
        description="Office space, compute and follow-on support.",
    )
    if ProgrammeKind.RESEARCH_COMPUTE not in existing:
        services.programme_create(
            actor=ctx.staff,
            name="Research Compute Call",
            kind=ProgrammeKind.RESEARCH_COMPUTE,
            description="GPU-hours for university research groups.",
        )
    return acc, inc


def _person(ctx: Any, email: str, name: str) -> User:
    user = ctx.users.get(email) or User.objects.filter(email=email).first()
    if user is None:
        from ailab.demo import demo_password

        user = user_create(email=email, password=demo_password(), full_name=name)
    ctx.users[email] = user
    return user


def _startup(ctx: Any, name: str, i: int) -> tuple[Organisation, User]:
    org = ctx.organisations.get(name) or Organisation.objects.filter(name=name).first()
    if org is not None:
        if org.founded is None:
            organisation_update(actor=ctx.staff, organisation=org, founded=dt.date(2022, 6, 1))
        founder = org.memberships.filter(role=Role.FOUNDER).first()
        assert founder is not None, f"demo startup {name} has no founder"
        return org, founder.user
    slug = name.lower().replace(" ", "")
    founder = _person(ctx, f"founder@{slug}.example", f"Founder of {name}")
    org = organisation_create(
        actor=founder,
        name=name,
        kind=OrganisationKind.STARTUP,
        founded=dt.date(2021 + i % 4, 1 + i % 12, 1),
    )
    ctx.organisations[name] = org
    return org, founder


def _reviewers(ctx: Any) -> list[User]:
    panel = (
        ctx.organisations.get("HKAI Review Panel")
        or Organisation.objects.filter(name="HKAI Review Panel").first()
        or organisation_create(
            actor=ctx.staff, name="HKAI Review Panel", kind=OrganisationKind.INDUSTRY_ASSOCIATION
        )
    )
    reviewers = [ctx.users["reviewer@sensetime.example"], ctx.users["reviewer@alibaba.example"]]
    for i in range(6):
        user = _person(ctx, f"reviewer{i + 1}@panel.hkai.example", f"Panel Reviewer {i + 1}")
        if not user.memberships.filter(organisation=panel).exists():
            membership_create(actor=ctx.staff, organisation=panel, user=user, role=Role.REVIEWER)
        reviewers.append(user)
    return reviewers


def _apply(ctx: Any, intake: Intake, plan: IntakePlan) -> list[Application]:
    apps = []
    for i, name in enumerate(plan.startups):
        org, founder = _startup(ctx, name, i)
        answers = {
            str(q.pk): f"{name}: {q.text.lower()} — see our deck."
            for q in intake.questions.filter(required=True)
        }
        app = services.application_create(
            actor=founder,
            intake=intake,
            organisation=org,
            answers=answers,
            team=[{"name": founder.full_name, "email": founder.email, "role": "CEO"}],
            gpu_hours_requested=2000 + 500 * (i % 5),
            compute_justification="Fine-tuning open models on our domain data.",
        )
        apps.append(services.application_submit(actor=founder, application=app))
    return apps


def _review(ctx: Any, intake: Intake, reviewers: list[User], seed: int) -> None:
    services.review_auto_assign(
        actor=ctx.staff, intake=intake, per_application=3, max_per_reviewer=8, reviewers=reviewers
    )
    rng = random.Random(seed)
    quality = {a.pk: rng.uniform(1.5, 4.8) for a in intake.applications.all()}
    harshness = {r.pk: rng.choice([-0.8, 0.0, 0.0, 0.5]) for r in reviewers}
    for reviewer in reviewers:
        for assignment in selectors.assignment_list_for(reviewer).filter(
            application__intake=intake, review__isnull=True
        ):
            q = quality[assignment.application_id] + harshness[reviewer.pk]
            scores = {
                c.name: max(1, min(5, round(q + rng.uniform(-0.7, 0.7))))
                for c in intake.criteria.all()
            }
            services.review_submit(
                actor=reviewer,
                assignment=assignment,
                scores=scores,
                confidence=rng.randint(2, 5),
                comments="Demo review.",
            )


def _usage(participation: Participation, seed: int) -> None:
    allocation = participation.allocation
    if allocation is None:
        return
    rng = random.Random(seed)
    start = dt.datetime.combine(participation.starts_on, dt.time(2), tzinfo=UTC)
    for i in range(6):
        began = start + dt.timedelta(days=7 + 25 * i, hours=rng.randint(0, 12))
        hours = rng.randint(20, 180)
        compute_services.usage_charge(
            allocation=allocation,
            gpu_seconds=hours * 3600,
            started_at=began,
            ended_at=began + dt.timedelta(hours=max(1, hours // 8)),
            key=f"demo:participation:{participation.pk}:{i}",
            gpus=8,
        )


def _cohort_life(ctx: Any, participations: list[Participation], plan: IntakePlan) -> None:
    mentors = [ctx.users["partner@hkstp.example"], ctx.users["prof@hku.example"]]
    today = timezone.localdate()
    for n, p in enumerate(participations):
        services.mentor_assign(
            actor=ctx.staff,
            participation=p,
            mentor=mentors[n % 2],
            focus=["Go-to-market", "Model evaluation"][n % 2],
        )
        _usage(p, plan.seed + n)
        founder = p.organisation.memberships.filter(role=Role.FOUNDER).first()
        for check_in in p.check_ins.filter(due_on__lte=today):
            if founder is None or (n == 2 and check_in.month >= 4):
                continue  # one team falls behind: its check-ins show as overdue
            services.check_in_report(
                actor=founder.user, check_in=check_in, summary=f"Month {check_in.month}: on plan."
            )
    investor = ctx.users["investor@harbourvc.example"]
    cohort = participations[0].cohort
    assert cohort is not None, "an award always places the team in its intake's cohort"
    services.demo_day_schedule(
        actor=ctx.staff,
        cohort=cohort,
        held_at=plan.demo_day,
        venue="Hong Kong Science Park",
        investors=[investor],
    )


def _run_intake(ctx: Any, programme: Programme, plan: IntakePlan, reviewers: list[User]) -> None:
    fund = fund_selectors.fund_by_name(FUND_NAME)
    intake = services.intake_create(
        actor=ctx.staff,
        programme=programme,
        title=plan.title,
        call_text="Hong Kong's AI accelerator: US$100,000 for 6%, six months of mentoring, "
        "4,000 GPU-hours on the lab's cluster, and a demo day in front of investors.",
        opens_at=plan.opens,
        closes_at=timezone.now() + dt.timedelta(hours=1),
        capacity_min=6,
        capacity_max=10,
        terms=TERMS,
        fund_id=fund.pk if fund else None,
        eligibility_rules=[
            {"rule": "organisation_kind", "kinds": ["startup"]},
            {"rule": "founded_after", "date": "2019-12-31"},
        ],
        criteria=RUBRIC,
        questions=QUESTIONS,
    )
    _apply(ctx, intake, plan)
    # The call ran in the past: staff set its deadline back to when it closed.
    services.intake_update(actor=ctx.staff, intake=intake, closes_at=plan.closes)
    _review(ctx, intake, reviewers, plan.seed)
    ranking = selectors.intake_ranking(intake=intake)
    accept = [r.application.pk for r in ranking[: plan.accept]]
    waitlist = [r.application.pk for r in ranking[plan.accept : plan.accept + 2]]
    services.selection_decide(
        actor=ctx.staff,
        intake=intake,
        accept=accept,
        waitlist=waitlist,
        reject_rest=True,
        notify=False,  # demo addresses are not real: record the decisions, mail no one
    )
    participations = services.awards_grant(actor=ctx.staff, intake=intake, on=plan.award_on)
    _cohort_life(ctx, participations, plan)
    ctx.say(f"{plan.title}: {len(ranking)} applications, {len(participations)} awards")


def _graduate_and_exit(ctx: Any, intake: Intake, incubation: Programme) -> None:
    cohort_end = intake.cohort.ends_on
    for p in intake.cohort.participations.filter(status=ParticipationStatus.ACTIVE):
        services.participation_graduate(
            actor=ctx.staff,
            participation=p,
            on=cohort_end + dt.timedelta(days=5),
            incubation=incubation,
        )
    name, proceeds, on = EXIT
    fund = fund_selectors.fund_by_name(FUND_NAME)
    org = Organisation.objects.filter(name=name).first()
    holding = (
        fund_selectors.holding_for(fund=fund, organisation_id=org.pk) if fund and org else None
    )
    if holding is None:  # the startup was not selected: exit the first holding instead
        holding = fund_selectors.holding_rows(fund=fund)[0].holding if fund else None
    if holding is not None and holding.status == "active":
        fund_services.valuation_mark(
            actor=ctx.staff,
            holding=holding,
            value=Decimal("400000"),
            as_of=on - dt.timedelta(days=60),
            note="Series A mark",
        )
        fund_services.exit_record(
            actor=ctx.staff,
            holding=holding,
            proceeds=proceeds,
            on=on,
            memo=f"{holding.organisation.name} acquired",
        )
        ctx.say(f"exit: {holding.organisation.name} for US${proceeds:,}; proceeds recycled")


def _marks_and_write_off(ctx: Any) -> None:
    """Later rounds mark two holdings up; one startup shuts down and is written off."""
    fund = fund_selectors.fund_by_name(FUND_NAME)
    if fund is None:
        return
    held = {r.holding.organisation.name: r.holding for r in fund_selectors.holding_rows(fund=fund)}
    for name, value in MARKS:
        holding = held.get(name)
        if holding is not None and holding.status == "active":
            fund_services.valuation_mark(
                actor=ctx.staff,
                holding=holding,
                value=value,
                as_of=dt.date(2026, 6, 30),
                note="Seed+ round",
            )
    name, on = WRITE_OFF
    holding = held.get(name)
    if holding is not None and holding.status == "active":
        fund_services.write_off_record(
            actor=ctx.staff, holding=holding, on=on, memo=f"{name} wound down"
        )


def _open_call(ctx: Any, programme: Programme) -> None:
    title = "Accelerator 2027 Spring"
    if selectors.intake_list_public().filter(title=title).exists():
        return
    fund = fund_selectors.fund_by_name(FUND_NAME)
    now = timezone.now()
    intake = services.intake_create(
        actor=ctx.staff,
        programme=programme,
        title=title,
        call_text="Applications are open for our next cohort of AI startups.",
        opens_at=now - dt.timedelta(days=5),
        closes_at=now + dt.timedelta(days=40),
        capacity_min=6,
        capacity_max=10,
        terms=TERMS,
        fund_id=fund.pk if fund else None,
        eligibility_rules=[{"rule": "organisation_kind", "kinds": ["startup"]}],
        criteria=RUBRIC,
        questions=QUESTIONS,
    )
    org, founder = _startup(ctx, "Lion Rock Vision", 3)
    services.application_create(
        actor=founder,
        intake=intake,
        organisation=org,
        gpu_hours_requested=1500,
        compute_justification="Vision model pre-training.",
    )


def _summary(intakes: list[Intake]) -> dict[str, Any]:
    out = []
    for intake in intakes:
        invested = sum(
            (
                fund_selectors.holding_cost(p.holding)
                for p in Participation.objects.filter(application__intake=intake)
                if p.holding is not None
            ),
            Decimal("0"),
        )
        out.append(
            {
                "title": intake.title,
                "applications": intake.applications.exclude(status=ApplicationStatus.DRAFT).count(),
                "accepted": intake.applications.filter(status=ApplicationStatus.ACCEPTED).count(),
                "invested": str(invested.quantize(Decimal("0.01"))),
            }
        )
    return {"intakes": out}


def demo_build_part(ctx: Any) -> dict[str, Any]:
    """Build (or complete) the programmes; all or nothing, so a rerun starts clean."""
    with transaction.atomic():
        return _build(ctx)


def _build(ctx: Any) -> dict[str, Any]:
    accelerator, incubation = _programmes(ctx)
    reviewers = _reviewers(ctx)
    for n, plan in enumerate(PLANS):
        intake = selectors.intake_list_public().filter(title=plan.title).first()
        if intake is None:
            _run_intake(ctx, accelerator, plan, reviewers)
            intake = selectors.intake_list_public().get(title=plan.title)
        if n == 0:
            _graduate_and_exit(ctx, intake, incubation)
    _marks_and_write_off(ctx)
    _open_call(ctx, accelerator)
    past = [selectors.intake_list_public().get(title=p.title) for p in PLANS]
    allocations = [p.allocation_id for p in Participation.objects.filter(allocation__isnull=False)]
    fund = fund_selectors.fund_by_name(FUND_NAME)
    summary: dict[str, Any] = _summary(past)
    balances = [
        compute_selectors.allocation_balance(a)
        for a in compute_selectors.allocation_list_visible_to(ctx.staff, all_=True).filter(
            pk__in=allocations
        )
    ]
    summary["allocations_granted"] = {
        "count": len(balances),
        "gpu_hours": sum(b["budget_gpu_seconds"] for b in balances) // 3600,
        "used_gpu_hours": sum(b["used_gpu_seconds"] for b in balances) // 3600,
    }
    if fund is not None:
        summary["fund"] = fund_selectors.fund_summary(fund=fund)
    return summary
