"""Isolation tests reuse the compute fixtures: a data directory, virtual GPUs, people."""

from tests.compute.conftest import compute_env, lab

__all__ = ["compute_env", "lab"]
