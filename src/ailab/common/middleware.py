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


class UploadLimitMiddleware:
    """First in the chain: a request whose upload was stopped at the limit is answered 413,
    whichever layer noticed (JSON under /api/, a page elsewhere)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        limit = getattr(request, "_ailab_upload_refused", None)
        if limit is None or response.status_code == 413:
            return response
        from ailab.common.uploads import UploadTooLarge

        error = UploadTooLarge(f"at most {limit} bytes; the upload was stopped there", field="file")
        if request.path.startswith("/api/"):
            from django.http import JsonResponse

            from ailab.common.api import error_body

            return JsonResponse(error_body(error.code, error.errors), status=413)
        return render(request, "common/error.html", {"error": error}, status=413)
