"""The NinjaAPI at /api/v1: every app's router, one error mapping, bearer or session auth."""

from __future__ import annotations

import importlib
from typing import Any

from csp.decorators import csp_update
from ninja import NinjaAPI

from ailab.common.api import AUTH, install_error_handlers

# Every error answers in one shape (ailab.common.api.error_body); the statuses any endpoint may
# give, documented on every operation so that clients (and the fuzzer) can rely on them.
ERROR_STATUSES = {
    "400": "Malformed request",
    "401": "Not signed in: send 'Authorization: Bearer <token>'",
    "403": "Signed in, but not allowed",
    "404": "No such object (or not visible to you)",
    "409": "Conflicts with the current state (a duplicate, a record still in use)",
    "413": "Request body too large",
    "422": "Invalid input: 'errors' names each field and the reason",
}
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": ["string", "null"]},
                    "reason": {"type": "string"},
                },
            },
        },
    },
    "required": ["error", "message", "errors"],
}


class LabAPI(NinjaAPI):
    def get_openapi_schema(self, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(**kwargs)
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        ref = {"$ref": "#/components/schemas/Error"}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for status, description in ERROR_STATUSES.items():
                    responses.setdefault(
                        status,
                        {
                            "description": description,
                            "content": {"application/json": {"schema": ref}},
                        },
                    )
        return schema


api = LabAPI(
    title="ailab API",
    version="1",
    description="The lab's API: accounts, compute, programmes and the fund. "
    "Authenticate with `Authorization: Bearer <token>` (create one with `ailab token create`). "
    "Errors share one JSON shape: `{error, message, errors: [{field, reason}]}`.",
    auth=AUTH,
    urls_namespace="api",
    # Swagger UI is served from the app's own static files; its React sets style attributes.
    docs_decorator=csp_update({"img-src": ["data:"]}),
)
install_error_handlers(api)

# (module, url prefix). Each app owns its router in <app>/api.py.
ROUTERS = [
    ("ailab.accounts.api", "/"),
    ("ailab.accounts.api_posix", "/"),
    ("ailab.compute.api", "/"),
    ("ailab.programmes.api", "/"),
    ("ailab.fund.api", "/"),
    ("ailab.events.api", "/"),
]
for module_name, prefix in ROUTERS:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        continue
    api.add_router(prefix, module.router)
