"""The home page: the lab, its organisations, open calls and cluster, from each app's selectors."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from csp.decorators import csp_update
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ailab.accounts.selectors import organisation_list

# Each app may offer a panel: home_panel(user=...) -> {"template": ..., **context}.
HOME_PANELS = [
    ("ailab.programmes.selectors", "home_panel"),
    ("ailab.compute.selectors", "home_panel"),
    ("ailab.fund.selectors", "home_panel"),
]


def _panels(request: HttpRequest) -> list[dict[str, Any]]:
    """Each panel is a dict with a ``template`` to include and its own context."""
    panels: list[dict[str, Any]] = []
    for module_name, attr in HOME_PANELS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        panel: Callable[..., dict[str, Any]] | None = getattr(module, attr, None)
        if panel is not None:
            panels.append(panel(user=request.user))
    return panels


def home(request: HttpRequest) -> HttpResponse:
    organisations = organisation_list()
    context = {
        "organisations": organisations[:50],
        "organisation_count": organisations.count(),
        "home_panels": _panels(request),
    }
    return render(request, "home.html", context)


@csp_update({"style-src": ["'unsafe-inline'"], "worker-src": ["blob:"]})
def api_reference(request: HttpRequest) -> HttpResponse:
    """ReDoc, from the app's own static files (ReDoc's styled-components inject <style>)."""
    from django.urls import reverse

    from ailab.config.api import api

    context = {"title": api.title, "openapi_url": reverse("api:openapi-json")}
    return render(request, "common/redoc.html", context)


REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@functools.cache
def _redoc_bundle() -> bytes:
    """ninja's bundled ReDoc with its one outside URL (a logo) pointed at our own file, so
    nothing on the page names another host."""
    from django.contrib.staticfiles import finders
    from django.templatetags.static import static

    path = finders.find("ninja/redoc.standalone.js")
    if not path:
        raise FileNotFoundError("ninja/redoc.standalone.js is not among the static files")
    text = Path(str(path)).read_bytes()
    return text.replace(REDOC_LOGO.encode(), static("ninja/favicon.svg").encode())


def api_reference_js(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(_redoc_bundle(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=3600"
    return response
