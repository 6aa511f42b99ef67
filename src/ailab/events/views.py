"""Event pages. Views only translate: parse, access, one service or selector, render."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from ailab.accounts.models import User
from ailab.events import documents, selectors, services


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def event_list(request: HttpRequest) -> HttpResponse:
    events = selectors.event_list_visible_to(request.user)
    return render(request, "events/list.html", {"events": events})


def event_detail(request: HttpRequest, event_id: int) -> HttpResponse:
    event = selectors.access_event(request.user, event_id)
    mine = None
    if request.user.is_authenticated:
        mine = event.registrations.filter(
            user=request.user, status__in=["pending", "approved", "waitlisted"]
        ).first()
    return render(request, "events/detail.html", {
        "event": event, "seats": selectors.event_seats(event), "mine": mine,
        "sessions": event.sessions.select_related("room"),
        "links": selectors.sees_join_link(request.user, event),
        "fields": event.fields.filter(form="registration"),
        "manages": selectors.manages_event(request.user, event),
    })  # fmt: skip


def event_ics(request: HttpRequest, event_id: int) -> HttpResponse:
    event = selectors.access_event(request.user, event_id)
    links = {event.pk} if selectors.sees_join_link(request.user, event) else set()
    raw = documents.calendar_ics(
        event.sessions.select_related("event", "room"), name=event.title,
        host=request.get_host(), with_links=links,
    )  # fmt: skip
    response = HttpResponse(raw, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="event-{event.pk}.ics"'
    return response


@login_required
@require_POST
def register(request: HttpRequest, event_id: int) -> HttpResponse:
    event = selectors.access_event(request.user, event_id)
    answers = {k[2:]: v for k, v in request.POST.items() if k.startswith("a_")}
    files = {k[2:]: f for k in request.FILES if k.startswith("a_") and (f := request.FILES.get(k))}
    services.registration_create(actor=_user(request), event=event, answers=answers, files=files)
    return redirect("event-detail", event_id=event.pk)


@login_required
@require_POST
def withdraw(request: HttpRequest, registration_id: int) -> HttpResponse:
    reg = selectors.access_registration(request.user, registration_id)
    services.registration_withdraw(actor=_user(request), registration=reg)
    return redirect("event-detail", event_id=reg.event_id)


@login_required
def ticket(request: HttpRequest, ticket: str) -> HttpResponse:
    reg = selectors.access_ticket(request.user, ticket)
    return render(request, "events/ticket.html", {
        "reg": reg, "qr": mark_safe(documents.ticket_qr_svg(reg.ticket)),  # segno's own SVG
        "sessions": reg.event.sessions.all(),
        "checked": set(reg.check_ins.values_list("session_id", flat=True)),
        "certificate": getattr(reg, "certificate", None),
    })  # fmt: skip


@login_required
@require_POST
def self_check_in(request: HttpRequest, session_id: int) -> HttpResponse:
    session = selectors.access_session(request.user, session_id)
    code = request.POST.get("ticket", "")
    services.check_in_self(actor=_user(request), session=session, ticket=code)
    return redirect("event-ticket", ticket=code)


@login_required
def certificate_download(request: HttpRequest, registration_id: int) -> HttpResponse:
    reg = selectors.access_registration(request.user, registration_id)
    cert = services.certificate_issue(actor=_user(request), registration=reg)
    url = request.build_absolute_uri(f"/verify/{cert.code}")
    response = HttpResponse(
        documents.certificate_pdf(cert, verify_url=url), content_type="application/pdf"
    )
    response["Content-Disposition"] = f'attachment; filename="certificate-{cert.code}.pdf"'
    return response


def verify(request: HttpRequest, code: str) -> HttpResponse:
    cert = selectors.certificate_by_code(code)
    return render(request, "events/verify.html", {"cert": cert})


@login_required
def manage(request: HttpRequest, event_id: int) -> HttpResponse:
    event = selectors.access_event(request.user, event_id, selectors.MANAGE)
    return render(request, "events/manage.html", {
        "event": event, "registrations": selectors.registration_list_for(event),
        "seats": selectors.event_seats(event), "sessions": event.sessions.all(),
    })  # fmt: skip


@login_required
@require_POST
def decide(request: HttpRequest, registration_id: int) -> HttpResponse:
    reg = selectors.access_registration(request.user, registration_id, selectors.MANAGE)
    services.registration_decide(
        actor=_user(request), registration=reg,
        approve=request.POST.get("approve") == "1", reason=request.POST.get("reason", ""),
    )  # fmt: skip
    return redirect("event-manage", event_id=reg.event_id)


@login_required
@require_POST
def staff_check_in(request: HttpRequest, session_id: int) -> HttpResponse:
    session = selectors.access_session(request.user, session_id, selectors.MANAGE)
    services.check_in_staff(
        actor=_user(request), session=session, ticket=request.POST.get("ticket", "")
    )
    return redirect("event-manage", event_id=session.event_id)
