"""Public call pages, the application form and the applicant's status page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from ailab.accounts.models import Membership, OrganisationKind, Role, User
from ailab.accounts.roles import is_lab_staff
from ailab.accounts.selectors import membership_list_of
from ailab.common.errors import PermissionDenied
from ailab.fund import selectors as fund_selectors
from ailab.programmes import eligibility, forms, selectors, services
from ailab.programmes.downloads import attachment_response
from ailab.programmes.models import Application


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def call_list(request: HttpRequest) -> HttpResponse:
    intakes = selectors.intake_list_public()
    return render(request, "programmes/call_list.html", {"intakes": intakes})


def call_detail(request: HttpRequest, intake_id: int) -> HttpResponse:
    intake = selectors.access_intake(_user(request), intake_id)
    return render(
        request,
        "programmes/call_detail.html",
        {"intake": intake, "rules": eligibility.describe(intake.eligibility)},
    )


def _founded(user: User) -> list[Membership]:
    return list(membership_list_of(user, role=Role.FOUNDER))


@login_required
def application_new(request: HttpRequest, intake_id: int) -> HttpResponse:
    """The application form: a draft is saved, a PDF attached, and optionally submitted."""
    user = _user(request)
    intake = selectors.access_intake(user, intake_id)
    if request.method == "POST":
        org = next(
            (
                m.organisation
                for m in _founded(user)
                if str(m.organisation_id) == request.POST.get("organisation_id")
            ),
            None,
        )
        if org is None:
            messages.error(request, "organisation_id: choose an organisation you founded")
            return redirect("application-new", intake_id=intake.pk)
        app = services.application_create(
            actor=user,
            intake=intake,
            organisation=org,
            answers=forms.answers_from(request.POST, intake),
            team=forms.team_from(request.POST.get("team", "")),
            gpu_hours_requested=forms.int_from(request.POST, "gpu_hours_requested"),
            compute_justification=request.POST.get("compute_justification", ""),
        )
        messages.success(request, "Draft saved. Attach your deck and submit when ready.")
        return redirect("application-detail", application_id=app.pk)
    return render(
        request,
        "programmes/application_form.html",
        {"intake": intake, "organisations": [m.organisation for m in _founded(user)]},
    )


@login_required
def application_detail(request: HttpRequest, application_id: int) -> HttpResponse:
    """The applicant's page: status, answers, attachments; drafts can be edited here."""
    user = _user(request)
    app = selectors.access_application(user, application_id)
    if request.method == "POST":
        app = selectors.access_application(user, application_id, selectors.CHANGE)
        _apply_post(request, user, app)
        return redirect("application-detail", application_id=app.pk)
    questions = [(q, app.answers.get(str(q.pk), "")) for q in app.intake.questions.all()]
    team_text = "\n".join(f"{t.name}, {t.email}, {t.role}" for t in app.team.all())
    return render(
        request,
        "programmes/application_detail.html",
        {"app": app, "questions": questions, "team_text": team_text},
    )


def _apply_post(request: HttpRequest, user: User, app: Application) -> None:
    action = request.POST.get("action", "save")
    if action == "withdraw":
        services.application_withdraw(actor=user, application=app)
        messages.info(request, "Application withdrawn.")
        return
    if action in ("save", "submit"):
        services.application_update(
            actor=user,
            application=app,
            answers=forms.answers_from(request.POST, app.intake),
            team=forms.team_from(request.POST.get("team", "")),
            gpu_hours_requested=forms.int_from(request.POST, "gpu_hours_requested"),
            compute_justification=request.POST.get("compute_justification", ""),
        )
        if request.FILES.get("file"):
            services.attachment_add(actor=user, application=app, upload=request.FILES["file"])
    if action == "submit":
        services.application_submit(actor=user, application=app)
        messages.success(request, "Application submitted.")
    else:
        messages.success(request, "Draft saved.")


@login_required
def my_applications(request: HttpRequest) -> HttpResponse:
    apps = selectors.application_list_visible_to(_user(request)).filter(
        organisation__memberships__user=_user(request)
    )
    return render(request, "programmes/my_applications.html", {"applications": apps})


@login_required
def attachment_download(request: HttpRequest, attachment_id: int) -> FileResponse:
    return attachment_response(selectors.access_attachment(_user(request), attachment_id))


@login_required
@require_POST
def conflict_declare(request: HttpRequest) -> HttpResponse:
    from ailab.accounts.selectors import access_organisation

    org_id = forms.int_from(request.POST, "organisation_id")
    org = access_organisation(_user(request), org_id)
    services.conflict_declare(
        actor=_user(request), organisation=org, reason=request.POST.get("reason", "")
    )
    messages.info(request, f"Conflict with {org.name} declared.")
    return redirect("review-dashboard")


@login_required
def intake_new(request: HttpRequest) -> HttpResponse:
    """Staff open a call: terms, eligibility, rubric and questions on one form."""
    user = _user(request)
    if not is_lab_staff(user):
        raise PermissionDenied("only lab staff may create intakes")
    if request.method == "POST":
        post = request.POST
        programme = selectors.access_programme(user, forms.int_from(post, "programme_id"))
        fund_id = forms.int_from(post, "fund_id") or None
        intake = services.intake_create(
            actor=user,
            programme=programme,
            title=post.get("title", ""),
            call_text=post.get("call_text", ""),
            opens_at=forms.local_datetime(post, "opens_at"),
            closes_at=forms.local_datetime(post, "closes_at"),
            capacity_min=forms.int_from(post, "capacity_min", 6),
            capacity_max=forms.int_from(post, "capacity_max", 10),
            terms={
                "funding_amount": post.get("funding_amount") or "0",
                "funding_currency": post.get("funding_currency", "USD"),
                "equity_pct": post.get("equity_pct") or "0",
                "gpu_hours": forms.int_from(post, "gpu_hours"),
                "duration_months": forms.int_from(post, "duration_months", 6),
            },
            fund_id=fund_id,
            eligibility_rules=forms.eligibility_from(post),
            criteria=forms.rubric_from(post.get("rubric", "")),
            questions=forms.questions_from(post.get("questions", "")),
        )
        messages.success(request, f"{intake.title} created.")
        return redirect("call-detail", intake_id=intake.pk)
    context = {
        "programmes": selectors.programme_list(),
        "funds": fund_selectors.fund_list_visible_to(user),
        "kinds": OrganisationKind.choices,
    }
    return render(request, "programmes/intake_form.html", context)
