from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

# (label, url name): each app's main page, shown once the app provides it.
NAV = [
    ("Cluster", "cluster-board"),
    ("Jobs", "job-list"),
    ("Allocations", "allocation-list"),
    ("Calls", "call-list"),
    ("Applications", "application-list"),
    ("Reviews", "review-dashboard"),
    ("Cohorts", "cohort-list"),
    ("Fund", "fund-dashboard"),
]


def _nav() -> list[dict[str, str]]:
    items = []
    for label, name in NAV:
        try:
            items.append({"label": label, "url": reverse(name)})
        except NoReverseMatch:
            continue
    return items


def lab(request: HttpRequest) -> dict[str, Any]:
    from ailab.accounts.roles import is_lab_staff

    user = getattr(request, "user", None)
    staff = bool(user is not None and user.is_authenticated and is_lab_staff(user))
    return {"LAB_NAME": settings.LAB_NAME, "NAV_ITEMS": _nav(), "IS_LAB_STAFF": staff}
