"""Browser journeys: Playwright driving Debian's chromium against a live server.

Every page a test opens is checked for requests to another host (refused and reported) and
for Content-Security-Policy violations; both fail the test. In CI (CI or AILAB_REQUIRE_BROWSER
set) a missing chromium fails the tests instead of skipping them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

# Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
# still synchronous, so Django's async guard is lifted for the browser tests only.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path(os.environ.get("AILAB_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
WIDTHS = {"desktop": 1280, "phone": 390}


def _required() -> bool:
    return bool(os.environ.get("CI") or os.environ.get("AILAB_REQUIRE_BROWSER"))


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = f"chromium not found at {CHROMIUM} (apt-get install -y chromium)"
        if _required():
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield instance
        instance.close()


@dataclass
class Watch:
    """What a page did that it must not: requests elsewhere, CSP violations, page errors."""

    foreign: list[str] = field(default_factory=list)
    csp: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def check(self) -> None:
        assert not self.foreign, f"requests to other hosts: {self.foreign}"
        assert not self.csp, f"Content-Security-Policy violations: {self.csp}"
        assert not self.errors, f"JavaScript errors: {self.errors}"


@pytest.fixture(params=list(WIDTHS))
def width(request: pytest.FixtureRequest) -> int:
    return WIDTHS[str(request.param)]


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
def page(browser: Any, live_server: Any, width: int, watch: Watch) -> Iterator[Any]:
    """A fresh browser context at the test's width; anything not for the live server is
    aborted and recorded, and the test fails on it after its last step."""
    from django.core.cache import cache

    cache.clear()  # allauth's rate limits live in the cache, not the test database
    host = urlsplit(live_server.url).netloc
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.set_default_timeout(15_000)

    def route(r: Any) -> None:
        url = r.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob") or parts.netloc == host:
            r.continue_()
        else:
            watch.foreign.append(url)
            r.abort()

    context.route(re.compile(".*"), route)
    pg = context.new_page()
    pg.on(
        "console",
        lambda msg: watch.csp.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    pg.on("pageerror", lambda exc: watch.errors.append(str(exc)))
    yield pg
    context.close()
    watch.check()


def fits(page: Any) -> None:
    """The page does not scroll sideways (it works at 390 px)."""
    page.wait_for_load_state("load")
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    if overflow > 1:
        culprit = page.evaluate(
            """() => { const w = document.documentElement.clientWidth; let worst = null;
            for (const el of document.querySelectorAll('body *')) {
              const r = el.getBoundingClientRect();
              if (r.right > w + 1 && (!worst || r.right > worst.r)) {
                worst = {r: r.right, tag: el.tagName, id: el.id, cls: el.className,
                         text: (el.textContent || '').slice(0, 60)}; } }
            return worst; }"""
        )
        pytest.fail(f"{page.url} is {overflow}px wider than the window; widest: {culprit}")


def sign_in(page: Any, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")
    page.wait_for_load_state()
