"""The NinjaAPI at /api/v1: every app's router, one error mapping, bearer or session auth."""

from __future__ import annotations

import importlib

from ninja import NinjaAPI

from ailab.common.api import AUTH, install_error_handlers

api = NinjaAPI(
    title="ailab API",
    version="1",
    description="The lab's API: accounts, compute, programmes and the fund. "
    "Authenticate with `Authorization: Bearer <token>` (create one with `ailab token create`).",
    auth=AUTH,
    urls_namespace="api",
)
install_error_handlers(api)

# (module, url prefix). Each app owns its router in <app>/api.py.
ROUTERS = [
    ("ailab.accounts.api", "/"),
    ("ailab.compute.api", "/"),
    ("ailab.programmes.api", "/"),
    ("ailab.fund.api", "/"),
]
for module_name, prefix in ROUTERS:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        continue
    api.add_router(prefix, module.router)
