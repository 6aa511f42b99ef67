"""Account pages: API tokens (create, shown once; revoke)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from ailab.accounts import selectors, services
from ailab.common.http import AuthedHttpRequest


@login_required
def tokens(request: AuthedHttpRequest) -> HttpResponse:
    context: dict[str, Any] = {
        "tokens": selectors.token_list_visible_to(request.user),
        "new_token": None,
    }
    if request.method == "POST":
        issued = services.token_create(actor=request.user, name=request.POST.get("name", ""))
        context["new_token"] = issued.raw
    return render(request, "accounts/tokens.html", context)


@login_required
@require_POST
def token_revoke(request: AuthedHttpRequest, token_id: int) -> HttpResponse:
    token = selectors.access_token(request.user, token_id)
    services.token_revoke(actor=request.user, token=token)
    messages.success(request, f"Token {token.name} revoked.")
    return redirect("tokens")
