"""HTMX helpers: render a fragment for HTMX requests and the whole page otherwise."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def render_page_or_fragment(
    request: HttpRequest, page: str, fragment: str, context: dict[str, Any]
) -> HttpResponse:
    template = fragment if getattr(request, "htmx", False) else page
    return render(request, template, context)
