"""Journeys of getting in, in a real browser at 1280 and 390 px: sign up and verify, register
a startup and apply; a founder invites a co-founder who signs up and accepts; staff invite a
reviewer; staff manage people and unlock a locked account; the API docs work offline."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from ailab.accounts import services
from ailab.accounts.models import Membership, Organisation, Role, User
from tests.browser.conftest import fits, sign_in

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "quiet-harbour-lantern-42"


def _mailed_path(to: str) -> str:
    messages = [m for m in mail.outbox if to in m.to]
    assert messages, f"no mail to {to}"
    found = re.search(r"https?://[^/\s]+(/\S+)", str(messages[-1].body))
    assert found, messages[-1].body
    return found.group(1)


def _open_intake() -> Any:
    from ailab.programmes import services as programmes
    from ailab.programmes.models import ProgrammeKind

    staff = services.user_create(email="calls@lab.example", password=PASSWORD, is_staff=True)
    programme = programmes.programme_create(
        actor=staff, name="AI Accelerator", kind=ProgrammeKind.ACCELERATOR
    )
    now = timezone.now()
    return programmes.intake_create(
        actor=staff,
        programme=programme,
        title="Spring intake",
        call_text="Apply with your AI startup.",
        opens_at=now - dt.timedelta(days=1),
        closes_at=now + dt.timedelta(days=7),
        capacity_min=1,
        capacity_max=10,
        terms={"gpu_hours": 500},
        fund_id=None,
        eligibility_rules=[{"rule": "organisation_kind", "kinds": ["startup"]}],
        criteria=[{"name": "Team", "weight": "1"}],
        questions=["What do you build?"],
    )


def test_register_verify_sign_in_create_a_startup_and_apply(page: Any, live_server: Any) -> None:
    """A newcomer signs up, follows the mailed link, signs in, registers a startup (becoming
    its founder) and saves an application to an open call."""
    base = live_server.url
    intake = _open_intake()
    page.goto(f"{base}/")
    page.click("text=Sign up")
    page.fill("input[name=email]", "ada@uni.example")
    page.fill("input[name=full_name]", "Ada Li")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    fits(page)
    page.click("form button[type=submit]")
    page.wait_for_load_state()
    assert "verify" in page.content().lower() or "confirm" in page.content().lower()
    page.goto(base + _mailed_path("ada@uni.example"))
    fits(page)
    page.click("form button[type=submit]")
    page.wait_for_load_state()
    page.context.clear_cookies()
    sign_in(page, base, "ada@uni.example", PASSWORD)
    assert page.locator("nav").get_by_text("ada@uni.example").count() == 1
    page.click("nav >> text=Organisations")
    page.wait_for_load_state()
    page.get_by_role("link", name="Register a startup").click()
    page.wait_for_load_state()
    page.fill("#id_name", "Tidal Labs")
    page.fill("#id_description", "Tide forecasts from satellite images.")
    fits(page)
    page.click("#startup-form button[type=submit]")
    page.wait_for_load_state()
    assert "you are its founder" in page.content()
    org = Organisation.objects.get(name="Tidal Labs")
    assert Membership.objects.get(organisation=org, user__email="ada@uni.example").role == "founder"
    page.goto(f"{base}/calls/{intake.pk}/apply/")
    fits(page)
    page.fill("textarea[name^=answer_]", "Tide forecasts.")
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    assert "Draft saved" in page.content()
    from ailab.programmes.models import Application

    assert Application.objects.filter(organisation=org).count() == 1


def test_founder_invites_a_cofounder_who_signs_up_and_accepts(page: Any, live_server: Any) -> None:
    """The founder invites by email from the members page; the invitee opens the mailed link,
    signs up with that address, verifies it, and accepts; only then are they a founder."""
    base = live_server.url
    founder = services.user_create(email="founder@startup.example", password=PASSWORD)
    org = services.organisation_create(actor=founder, name="Kelp AI", kind="startup")
    sign_in(page, base, founder.email, PASSWORD)
    page.goto(f"{base}/organisations/{org.pk}/members/")
    fits(page)
    assert page.locator("#id_role option[value=investor]").count() == 0
    page.fill("#id_email", "cofounder@startup.example")
    page.select_option("#id_role", "founder")
    page.click("#invite-form button[type=submit]")
    page.wait_for_load_state()
    assert "Invitation sent" in page.content()
    link = _mailed_path("cofounder@startup.example")
    assert not User.objects.filter(email="cofounder@startup.example").exists()
    page.context.clear_cookies()
    page.goto(base + link)
    fits(page)
    page.locator("main").get_by_role("link", name="Sign up").click()
    page.fill("input[name=email]", "cofounder@startup.example")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_load_state()
    page.goto(base + _mailed_path("cofounder@startup.example"))  # the verification mail
    page.click("form button[type=submit]")
    page.wait_for_load_state()
    page.context.clear_cookies()
    sign_in(page, base, "cofounder@startup.example", PASSWORD)
    assert not Membership.objects.filter(user__email="cofounder@startup.example").exists()
    page.goto(base + link)
    page.click("#invitation-answer button[value=accept]")
    page.wait_for_load_state()
    assert "You joined Kelp AI" in page.content()
    assert Membership.objects.get(user__email="cofounder@startup.example").role == Role.FOUNDER


def test_staff_invite_a_reviewer_who_accepts(page: Any, live_server: Any) -> None:
    """Lab staff invite an existing user as reviewer of the lab from the people page; the
    reviewer signs in and accepts."""
    base = live_server.url
    staff = services.user_create(email="staff@lab.example", password=PASSWORD, is_staff=True)
    lab = services.organisation_create(actor=staff, name="The Lab", kind="lab")
    services.user_create(email="prof@uni.example", password=PASSWORD)
    sign_in(page, base, staff.email, PASSWORD)
    page.click("nav >> text=People")
    fits(page)
    page.fill("#people-invite #id_email", "prof@uni.example")
    page.select_option("#id_organisation", str(lab.pk))
    page.select_option("#people-invite #id_role", "reviewer")
    page.click("#people-invite button[type=submit]")
    page.wait_for_load_state()
    assert "Invitation sent to prof@uni.example" in page.content()
    link = _mailed_path("prof@uni.example")
    page.context.clear_cookies()
    sign_in(page, base, "prof@uni.example", PASSWORD)
    page.goto(base + link)
    fits(page)
    page.click("#invitation-answer button[value=accept]")
    page.wait_for_load_state()
    assert (
        Membership.objects.get(user__email="prof@uni.example", organisation=lab).role == "reviewer"
    )


def test_staff_manage_people_and_unlock_an_account(
    page: Any, browser: Any, live_server: Any, width: int
) -> None:
    """Staff search people, set a Unix account, deactivate and reactivate a user, and unlock
    an account (and address) that ten failed sign-ins locked; the user then signs in."""
    base = live_server.url
    staff = services.user_create(email="staff@lab.example", password=PASSWORD, is_staff=True)
    member = services.user_create(email="member@startup.example", password=PASSWORD)
    # Staff sign in first: the failures below lock this (loopback) address too.
    staff_context = browser.new_context(viewport={"width": width, "height": 900})
    desk = staff_context.new_page()
    sign_in(desk, base, staff.email, PASSWORD)
    for _ in range(10):
        page.goto(f"{base}/accounts/login/")
        page.fill("input[name=login]", member.email)
        page.fill("input[name=password]", "wrong-password")
        page.click("form button[type=submit]")
        page.wait_for_load_state()
    sign_in(page, base, member.email, PASSWORD)
    assert "Too many failed sign-ins" in page.content()
    desk.goto(f"{base}/people/?q=member@")
    fits(desk)
    desk.locator("#people").get_by_role("link", name=member.email).click()
    desk.wait_for_load_state()
    fits(desk)
    desk.fill("#id_username", "member1")
    desk.fill("#id_uid", "62001")
    desk.click("#posix-form button[type=submit]")
    desk.wait_for_load_state()
    assert "member1" in desk.locator("#posix").inner_text()
    desk.get_by_role("button", name="Deactivate").click()
    desk.wait_for_load_state()
    assert desk.locator("#state").inner_text() == "deactivated"
    desk.get_by_role("button", name="Reactivate").click()
    desk.wait_for_load_state()
    assert desk.locator("#state").inner_text() == "active"
    desk.goto(f"{base}/people/lockouts/")
    fits(desk)
    assert "locked" in desk.locator("#lockouts").inner_text()
    desk.locator("#lockouts button[type=submit]").first.click()
    desk.wait_for_load_state()
    staff_context.close()
    page.context.clear_cookies()
    sign_in(page, base, member.email, PASSWORD)
    assert page.locator("nav").get_by_text(member.email).count() == 1


def test_api_docs_render_from_the_labs_own_files(page: Any, live_server: Any) -> None:
    """Swagger UI and ReDoc load and show the API's operations with every request to the lab
    itself (the page fixture fails on any other host or CSP violation)."""
    page.goto(f"{live_server.url}/api/v1/docs")
    page.wait_for_selector(".opblock", timeout=60_000)
    assert page.locator(".opblock").count() > 10
    page.goto(f"{live_server.url}/api/v1/redoc")
    page.wait_for_selector("text=ailab API", timeout=60_000)
