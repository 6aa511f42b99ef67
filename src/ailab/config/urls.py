from __future__ import annotations

import importlib

from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

from ailab.config.api import api
from ailab.config.views import api_reference, api_reference_js

urlpatterns: list[URLPattern | URLResolver] = [
    path("admin/", admin.site.urls),
    path("api/v1/redoc", api_reference, name="api-reference"),
    path("api/v1/redoc.js", api_reference_js, name="api-reference-js"),
    path("api/v1/", api.urls),
    path("accounts/", include("allauth.urls")),
    path("", include("ailab.accounts.urls")),
]

# Each domain app owns its pages in <app>/urls.py.
for app in ("compute", "programmes", "fund", "events"):
    try:
        importlib.import_module(f"ailab.{app}.urls")
    except ModuleNotFoundError as exc:
        if exc.name != f"ailab.{app}.urls":
            raise
        continue
    urlpatterns.append(path("", include(f"ailab.{app}.urls")))
