"""Project-wide fixtures. Apps add theirs in tests/<app>/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
TRACES = SHARED / "traces"


@pytest.fixture
def traces_dir() -> Path:
    if not TRACES.is_dir():
        pytest.skip(f"cluster traces not found at {TRACES} (they live in ../shared/traces)")
    return TRACES
