"""Settings for signing in (django-allauth), login throttling (django-axes) and the
Content-Security-Policy (django-csp). Star-imported by ``ailab.config.settings``."""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path
from typing import Any

from csp.constants import NONE, SELF

AUTHENTICATION_BACKENDS = [
    # First: refuses any sign-in (pages, admin, allauth) while the account or address is locked.
    "axes.backends.AxesStandaloneBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

# Accounts: sign in with an email address; new addresses are verified before use.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_REDIRECT_URL = "/"
ACCOUNT_ADAPTER = "ailab.accounts.adapter.AccountAdapter"
ACCOUNT_SIGNUP_FORM_CLASS = "ailab.accounts.forms.SignupExtra"
# Failed sign-ins are counted by axes (per account and per address); allauth's own limits
# stay for signup, reset and confirmation mails.
ACCOUNT_RATE_LIMITS = {"login_failed": False}
SOCIALACCOUNT_ADAPTER = "ailab.accounts.adapter.SocialAccountAdapter"
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_ONLY = False

# Throttling: the 11th failed sign-in within 15 minutes, for one account or from one address,
# is refused until the cool-off passes or lab staff unlock it (/people/lockouts/).
AXES_FAILURE_LIMIT = 10
AXES_COOLOFF_TIME = _dt.timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_USERNAME_CALLABLE = "ailab.accounts.throttle.username_of"
AXES_LOCKOUT_TEMPLATE = "account/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_RESET_ON_SUCCESS = False
AXES_VERBOSE = False

# Content-Security-Policy on every response: nothing from another host, no inline script.
CONTENT_SECURITY_POLICY: dict[str, Any] = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        # Style attributes (a few templates, Swagger UI's React) but never <style> elements.
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}


def secret_key_from_data_dir(data_dir: Path) -> str:
    """The key `make run` generated into the data directory, or "" when there is none."""
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except (FileNotFoundError, PermissionError):
        return ""


def oidc_providers() -> dict[str, Any]:
    """allauth's openid_connect provider from AILAB_OIDC_*; empty when no server is set."""
    server_url = os.environ.get("AILAB_OIDC_SERVER_URL", "").strip()
    if not server_url:
        return {}
    app = {
        "provider_id": os.environ.get("AILAB_OIDC_ID", "sso").strip() or "sso",
        "name": os.environ.get("AILAB_OIDC_NAME", "Single sign-on").strip() or "Single sign-on",
        "client_id": os.environ.get("AILAB_OIDC_CLIENT_ID", ""),
        "secret": os.environ.get("AILAB_OIDC_CLIENT_SECRET", ""),
        "settings": {
            "server_url": server_url,
            "token_auth_method": os.environ.get(
                "AILAB_OIDC_TOKEN_AUTH_METHOD", "client_secret_basic"
            ),
            "oauth_pkce_enabled": True,
        },
    }
    return {"openid_connect": {"APPS": [app], "OAUTH_PKCE_ENABLED": True}}
