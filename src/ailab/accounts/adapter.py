"""allauth adapters: names checked like every other name, and single sign-on users named."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        from django.conf import settings

        return bool(getattr(settings, "AILAB_SIGNUP_OPEN", True))


class SocialAccountAdapter(DefaultSocialAccountAdapter):  # type: ignore[misc]
    def populate_user(self, request: HttpRequest, sociallogin: Any, data: dict[str, Any]) -> Any:
        from ailab.common.validation import refuse_control_chars

        user = super().populate_user(request, sociallogin, data)
        claims = sociallogin.account.extra_data or {}
        name = str(claims.get("name") or data.get("name") or "").strip()[:200]
        try:
            user.full_name = refuse_control_chars(name, field="full_name")
        except Exception:  # a provider's odd name is dropped rather than refusing sign-in
            user.full_name = ""
        return user
