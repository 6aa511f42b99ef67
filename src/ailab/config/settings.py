"""Django settings for ailab, from environment variables with embedded defaults.

AILAB_DATABASE_URL   default: SQLite in the data directory
AILAB_SECRET_KEY     required when AILAB_DEBUG is off
AILAB_DEBUG          default: off
AILAB_ALLOWED_HOSTS  comma-separated, default: localhost,127.0.0.1
AILAB_DATA_DIR       default: ./var
AILAB_BACKEND        execution backend, default: local
AILAB_TIME_ZONE      the lab's time zone for display, default: Asia/Hong_Kong
AILAB_HTTPS          served over HTTPS (secure cookies, HSTS, redirect), default: off
AILAB_EMAIL_BACKEND  console | smtp | file | locmem (or a dotted path); default: console
                     with debug on, smtp (AILAB_EMAIL_HOST, _PORT, _USER, _PASSWORD, _USE_TLS)
                     with it off. With debug off the console backend is refused unless chosen
                     on purpose (AILAB_EMAIL_BACKEND=console).
AILAB_UPLOAD_MAX_BYTES  largest file accepted in one upload, default: 10 MiB
AILAB_OIDC_SERVER_URL, AILAB_OIDC_CLIENT_ID, AILAB_OIDC_CLIENT_SECRET, AILAB_OIDC_NAME
                     single sign-on through an OpenID Connect provider (off unless the URL is set)
"""

from __future__ import annotations

import os
import sys

import dj_database_url
import django_stubs_ext

from ailab.config.auth_settings import *  # noqa: F403  (allauth, axes, CSP)
from ailab.config.auth_settings import oidc_providers, secret_key_from_data_dir
from ailab.config.env import ConfigurationError, data_dir, env_bool, env_int, env_list, env_str

# Lets generic Django classes be subscripted at run time (ModelAdmin[Model]) for the type checker.
django_stubs_ext.monkeypatch()

DATA_DIR = data_dir()
TESTING = "pytest" in sys.modules or os.environ.get("AILAB_TESTING") == "1"
DEBUG = env_bool("AILAB_DEBUG", False)

# `make run` generates a key into the data directory; every server-side command reads it too.
SECRET_KEY = os.environ.get("AILAB_SECRET_KEY", "") or secret_key_from_data_dir(DATA_DIR)
if not SECRET_KEY:
    if DEBUG or TESTING:
        SECRET_KEY = "insecure-development-key-not-for-production"
    else:
        raise ConfigurationError(
            "AILAB_SECRET_KEY is not set: set AILAB_SECRET_KEY to a long random string "
            "(or AILAB_DEBUG=1 for development)."
        )

ALLOWED_HOSTS = env_list("AILAB_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("AILAB_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "bootstrap",
    "ninja",
    "csp",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "ailab.common",
    "ailab.accounts",
    "ailab.compute",
    "ailab.programmes",
    "ailab.fund",
    "ailab.events",
    # After the lab's apps, so that ailab's templates override allauth's.
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
]

MIDDLEWARE = [
    "ailab.common.middleware.UploadLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "ailab.common.middleware.DomainErrorMiddleware",
    # Last, so that a locked-out sign-in anywhere (the lab's pages, /admin/login/) is refused.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "ailab.config.urls"
WSGI_APPLICATION = "ailab.config.wsgi.application"
ASGI_APPLICATION = "ailab.config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "ailab.common.context.lab",
            ],
        },
    }
]


def _database() -> dict[str, object]:
    url = os.environ.get("AILAB_DATABASE_URL") or f"sqlite:///{DATA_DIR / 'ailab.sqlite3'}"
    if TESTING and os.environ.get("AILAB_TEST_DATABASE_URL"):
        url = os.environ["AILAB_TEST_DATABASE_URL"]
    config: dict[str, object] = dict(dj_database_url.parse(url, conn_max_age=60))
    if config["ENGINE"] == "django.db.backends.sqlite3":
        name = str(config["NAME"])
        if name != ":memory:" and not name.startswith("file:"):
            os.makedirs(os.path.dirname(name) or ".", exist_ok=True)
        # WAL and a busy timeout let the web server and the scheduler loop share the file.
        config["OPTIONS"] = {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        config["CONN_MAX_AGE"] = 0
    return config


DATABASES = {"default": _database()}

# Background tasks (DESIGN.md rule 5) in the database; `ailab worker` runs them. AILAB_TASKS=
# immediate runs each one at once where it is enqueued (the default under pytest: no worker).
_TASKS_IMMEDIATE = env_str("AILAB_TASKS", "immediate" if TESTING else "database") == "immediate"
TASKS = {
    "default": {
        "BACKEND": "django_tasks.backends.immediate.ImmediateBackend"
        if _TASKS_IMMEDIATE
        else "django_tasks_db.DatabaseBackend"
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("AILAB_TIME_ZONE", "Asia/Hong_Kong")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
MEDIA_ROOT = DATA_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

EMAIL_BACKENDS = {
    "console": "django.core.mail.backends.console.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
}


def _email_backend() -> str:
    chosen = os.environ.get("AILAB_EMAIL_BACKEND", "").strip()
    backend = EMAIL_BACKENDS.get(chosen, chosen) or EMAIL_BACKENDS["console" if DEBUG else "smtp"]
    if backend == EMAIL_BACKENDS["console"] and not (DEBUG or TESTING) and chosen != "console":
        # The console backend prints working sign-in and reset links into the server's log.
        raise ConfigurationError(
            "AILAB_EMAIL_BACKEND: the console mail backend prints reset links into the log; "
            "with debug off configure smtp (AILAB_EMAIL_HOST) or set AILAB_EMAIL_BACKEND=console "
            "on purpose."
        )
    return backend


EMAIL_BACKEND = _email_backend()
EMAIL_FILE_PATH = DATA_DIR / "mail"
EMAIL_HOST = env_str("AILAB_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("AILAB_EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("AILAB_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = env_str("AILAB_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("AILAB_EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("AILAB_FROM_EMAIL", "ailab <noreply@localhost>")

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
HTTPS = env_bool("AILAB_HTTPS", False)
if HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("AILAB_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("AILAB_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Request bodies: JSON and forms held in memory up to this; larger ones get 413 (ailab.common.api).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("AILAB_BODY_MAX_BYTES", 12 * 1024 * 1024)
AILAB_UPLOAD_MAX_BYTES = env_int("AILAB_UPLOAD_MAX_BYTES", 10 * 1024 * 1024)
AILAB_ATTACHMENT_MAX_BYTES = AILAB_UPLOAD_MAX_BYTES
# The limit handler comes first: past the limit no later handler sees another byte.
FILE_UPLOAD_HANDLERS = [
    "ailab.common.uploads.LimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

LAB_NAME = env_str("AILAB_LAB_NAME", "ailab")
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{LAB_NAME}] "
SOCIALACCOUNT_PROVIDERS = oidc_providers()

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("AILAB_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
