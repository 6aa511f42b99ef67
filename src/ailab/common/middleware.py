"""Maps DomainError raised under a page view to a page message (DESIGN.md rule 2).

API endpoints never get here: ``ailab.common.api`` maps them to JSON first.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from ailab.common.errors import DomainError, NotAuthenticated, NotFound, PermissionDenied


class DomainErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not isinstance(exc, DomainError):
            return None
        if isinstance(exc, NotAuthenticated):
            from django.contrib.auth.views import redirect_to_login

            return redirect_to_login(request.get_full_path())
        if isinstance(exc, NotFound | PermissionDenied) or request.method == "GET":
            return render(request, "common/error.html", {"error": exc}, status=exc.status)
        messages.error(request, str(exc))
        back = request.headers.get("Referer", "")
        if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            if getattr(request, "htmx", False):
                response = HttpResponse(status=204)
                response["HX-Redirect"] = back
                return response
            return HttpResponseRedirect(back)
        return render(request, "common/error.html", {"error": exc}, status=exc.status)
