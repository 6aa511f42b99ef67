"""access_event, access_session, access_registration, access_ticket for every role."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser

from ailab.common.errors import NotAuthenticated, NotFound, PermissionDenied
from ailab.events import selectors, services
from tests.events.conftest import Lab

pytestmark = pytest.mark.django_db
ROLES = [
    "anonymous", "stranger", "org_member", "outsider_founder",
    "organiser", "staff", "lab_role_staff", "registrant",
]  # fmt: skip
OK = "ok"


def actor(lab: Lab, role: str, registrant: Any) -> Any:
    if role == "anonymous":
        return AnonymousUser()
    if role == "registrant":
        return registrant
    return getattr(lab, role)


def outcome(fn: object) -> str | type:
    try:
        fn()  # type: ignore[operator]
    except (NotFound, PermissionDenied, NotAuthenticated) as exc:
        return type(exc)
    return OK


MANAGERS = {"organiser", "staff", "lab_role_staff"}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("published", [True, False])
def test_access_event_and_session(lab: Lab, role: str, published: bool) -> None:
    """Published events are visible to all, unpublished only to organisers and lab staff;
    managing is for organisers and lab staff only (anonymous: sign in; others: forbidden)."""
    event = lab.event(published=published, capacity=5)
    session = lab.session(event)
    reg = services.registration_create(actor=lab.stranger, event=event) if published else None
    who = actor(lab, role, reg.user if reg else lab.stranger)
    view = outcome(lambda: selectors.access_event(who, event.pk))
    manage = outcome(lambda: selectors.access_event(who, event.pk, selectors.MANAGE))
    s_manage = outcome(lambda: selectors.access_session(who, session.pk, selectors.MANAGE))
    if role in MANAGERS:
        assert (view, manage, s_manage) == (OK, OK, OK)
    elif not published:
        assert (view, manage, s_manage) == (NotFound, NotFound, NotFound)
    else:
        denied = NotAuthenticated if role == "anonymous" else PermissionDenied
        assert (view, manage, s_manage) == (OK, denied, denied)
    assert outcome(lambda: selectors.access_event(who, 10**9)) is NotFound
    assert set(selectors.event_list_visible_to(who)) == (
        {event} if published or role in MANAGERS else set()
    )


@pytest.mark.parametrize("role", ROLES)
def test_access_registration_and_ticket(lab: Lab, role: str) -> None:
    """The registrant sees their own and its ticket; organisers see and decide; everyone
    else gets not-found (anonymous: sign in)."""
    event = lab.event(capacity=5)
    reg = services.registration_create(actor=lab.stranger, event=event)
    # the stranger is the registrant; "stranger" as a role means another plain user here
    other = services.registration_create(actor=lab.org_member, event=event)
    who = actor(lab, role, lab.stranger)
    if role == "stranger":
        who = lab.outsider_founder  # a signed-in user with no tie to this registration
    view = outcome(lambda: selectors.access_registration(who, reg.pk))
    manage = outcome(lambda: selectors.access_registration(who, reg.pk, selectors.MANAGE))
    ticket = outcome(lambda: selectors.access_ticket(who, reg.ticket))
    if role == "anonymous":
        assert (view, manage, ticket) == (NotAuthenticated,) * 3
    elif role == "registrant":
        assert (view, manage, ticket) == (OK, PermissionDenied, OK)
    elif role in MANAGERS:
        assert (view, manage, ticket) == (OK, OK, NotFound)
    else:
        assert (view, manage, ticket) == (NotFound, NotFound, NotFound)
    if role == "registrant":
        assert outcome(lambda: selectors.access_registration(who, other.pk)) is NotFound
