"""Project-wide fixtures. Apps add theirs in tests/<app>/conftest.py."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import unix

# Jobs of test users get Unix accounts from the provisioner (names of their own per xdist
# worker), made on this machine when the tests run as root, with working directories that
# those users can reach. Tests of the refusals turn these off for themselves.
os.environ.setdefault("AILAB_POSIX_PROVISIONER", "sequential")
os.environ.setdefault("AILAB_POSIX_PREFIX", f"{unix.TEST_PREFIX}{unix.worker_suffix()}-")
os.environ.setdefault("AILAB_POSIX_UID_MIN", "40000")
os.environ.setdefault("AILAB_LOCAL_CREATE_USERS", "1")
os.environ.setdefault("AILAB_JOB_ROOT", str(unix.job_root()))


@pytest.fixture(autouse=True)
def _keep_umask() -> Iterator[None]:
    """A lab-mode backend sets the process umask to 077 (the server's files are private);
    each test starts from the umask the run began with."""
    umask = os.umask(0o022)
    os.umask(umask)
    yield
    os.umask(umask)


@pytest.fixture(scope="session", autouse=True)
def _remove_job_root() -> Iterator[None]:
    yield
    shutil.rmtree(unix.job_root(), ignore_errors=True)


SHARED = Path(__file__).resolve().parents[1].parent / "shared"
TRACES = SHARED / "traces"


@pytest.fixture
def traces_dir() -> Path:
    if not TRACES.is_dir():
        if os.environ.get("AILAB_REQUIRE_TRACES") == "1":  # CI: a missing trace fails
            pytest.fail(f"AILAB_REQUIRE_TRACES=1 but no cluster traces at {TRACES}")
        pytest.skip(f"cluster traces not found at {TRACES} (they live in ../shared/traces)")
    return TRACES
