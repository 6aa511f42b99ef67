"""Django settings for ailab, from environment variables with embedded defaults.

AILAB_DATABASE_URL   default: SQLite in the data directory
AILAB_SECRET_KEY     required when AILAB_DEBUG is off
AILAB_DEBUG          default: off
AILAB_ALLOWED_HOSTS  comma-separated, default: localhost,127.0.0.1
AILAB_DATA_DIR       default: ./var
AILAB_BACKEND        execution backend, default: local
AILAB_TIME_ZONE      the lab's time zone for display, default: Asia/Hong_Kong
"""

from __future__ import annotations

import os
import sys

import dj_database_url
import django_stubs_ext

from ailab.config.env import ConfigurationError, data_dir, env_bool, env_list, env_str

# Lets generic Django classes be subscripted at run time (ModelAdmin[Model]) for the type checker.
django_stubs_ext.monkeypatch()

DATA_DIR = data_dir()
TESTING = "pytest" in sys.modules or os.environ.get("AILAB_TESTING") == "1"
DEBUG = env_bool("AILAB_DEBUG", False)

SECRET_KEY = os.environ.get("AILAB_SECRET_KEY", "")
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
    "ailab.common",
    "ailab.accounts",
    "ailab.compute",
    "ailab.programmes",
    "ailab.fund",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "ailab.common.middleware.DomainErrorMiddleware",
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
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
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

EMAIL_BACKEND = env_str("AILAB_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("AILAB_FROM_EMAIL", "ailab <noreply@localhost>")

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024

LAB_NAME = env_str("AILAB_LAB_NAME", "ailab")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("AILAB_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
