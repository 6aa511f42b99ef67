"""No page names another host: every page without parameters, rendered for a visitor and
for lab staff, loads scripts, styles, images and forms from the lab only."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from ailab.accounts import services

ATTR = re.compile(
    r"""(?:src|href|action|srcset|poster|data)\s*=\s*["']\s*((?:https?:)?//[^"'\s]+)""", re.I
)
CSS_URL = re.compile(r"""url\(\s*["']?((?:https?:)?//[^)"']+)""", re.I)
SKIP = ("admin/", "api/v1/", "accounts/logout", "accounts/confirm-email")


def _pages(resolvers: list[URLPattern | URLResolver], prefix: str = "") -> list[str]:
    out: list[str] = []
    for entry in resolvers:
        route = prefix + str(entry.pattern)
        if "<" in route or "(?P" in route or ("^" in route.lstrip("^") and "$" not in route):
            continue
        if isinstance(entry, URLResolver):
            out += _pages(entry.url_patterns, route)
        else:
            out.append("/" + route.lstrip("^").rstrip("$"))
    return out


def _foreign(html: str) -> list[str]:
    return [u for u in ATTR.findall(html) + CSS_URL.findall(html) if "//testserver" not in u]


@pytest.mark.django_db
def test_no_page_references_another_host() -> None:
    """Each page (and the API docs) renders with no URL to another host in what it loads."""
    staff = services.user_create(
        email="staff@lab.example", password="pw-123456-test", is_staff=True
    )
    pages = [p for p in _pages(get_resolver().url_patterns) if not p.lstrip("/").startswith(SKIP)]
    pages += ["/api/v1/docs", "/api/v1/redoc", "/admin/"]
    assert len(pages) > 15, pages
    signed_in = Client()
    signed_in.force_login(staff)
    checked = 0
    for client in (Client(), signed_in):
        for path in pages:
            response = client.get(path)
            if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
                continue
            checked += 1
            assert _foreign(response.content.decode()) == [], path
    assert checked > 20
    bundle = Client().get("/api/v1/redoc.js").content
    assert b"cdn.redoc.ly" not in bundle
