"""Typing for requests whose user is known to be signed in (behind login_required or auth)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from ailab.accounts.models import User


class AuthedHttpRequest(HttpRequest):
    user: User
