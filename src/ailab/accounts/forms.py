"""Extra fields on allauth's sign-up form."""

from __future__ import annotations

from typing import Any

from django import forms

from ailab.accounts.models import NAME_MAX
from ailab.common.errors import ValidationError
from ailab.common.validation import refuse_control_chars


class SignupExtra(forms.Form):
    full_name = forms.CharField(max_length=NAME_MAX, required=False, label="Full name")

    def clean_full_name(self) -> str:
        name = (self.cleaned_data.get("full_name") or "").strip()
        try:
            return refuse_control_chars(name, field="full_name")
        except ValidationError as exc:
            raise forms.ValidationError(exc.reason) from exc

    def signup(self, request: Any, user: Any) -> None:
        user.full_name = self.cleaned_data.get("full_name", "")
        user.save(update_fields=["full_name"])
