"""Backends by name: ``get_backend("local")``. A small table so a new backend is one line.

The name comes from the cluster row (``Cluster.backend``) or ``AILAB_BACKEND`` (default
``local``), read at call time. Backends are built with ``from_env()``, which reads their own
environment variables (the data directory, the GPUs, the Slurm command paths).
"""

from __future__ import annotations

import importlib
import os

from ailab.execution.base import Backend

BACKENDS: dict[str, str] = {
    "local": "ailab.execution.local:LocalBackend",
    "slurm": "ailab.execution.slurm:SlurmBackend",
}


def backend_class(name: str) -> type[Backend]:
    try:
        target = BACKENDS[name]
    except KeyError:
        known = ", ".join(sorted(BACKENDS))
        raise KeyError(f"unknown backend {name!r} (known: {known})") from None
    module_name, _, attr = target.partition(":")
    cls: type[Backend] = getattr(importlib.import_module(module_name), attr)
    return cls


def get_backend(name: str | None = None) -> Backend:
    """A backend instance for ``name`` (default: ``AILAB_BACKEND`` or ``local``)."""
    name = name or os.environ.get("AILAB_BACKEND", "") or "local"
    cls = backend_class(name)
    return cls.from_env()


def backend_isolated(name: str | None = None) -> bool:
    """Whether jobs on this backend run as their owners' Unix accounts (read from the
    environment, without building the backend)."""
    name = name or os.environ.get("AILAB_BACKEND", "") or "local"
    return backend_class(name).isolated_from_env()
