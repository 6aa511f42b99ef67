"""Real Unix accounts for tests of isolation: made with useradd when the tests run as root
(as CI does), so jobs really run as other users; otherwise the current user."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import subprocess
import tempfile
from pathlib import Path

import pytest

IS_ROOT = os.geteuid() == 0
TEST_PREFIX = "ailabt"
_JOB_ROOT: Path | None = None


def worker_suffix() -> str:
    """xdist runs workers in parallel with databases of their own: their provisioned
    accounts get names of their own too, so two workers never race for one name."""
    return os.environ.get("PYTEST_XDIST_WORKER", "gw")


def job_root() -> Path:
    """One directory per test process for the jobs' working directories, reachable (mode
    0711) by the job users, unlike pytest's own 0700 temporary directories."""
    global _JOB_ROOT
    if _JOB_ROOT is None:
        _JOB_ROOT = Path(tempfile.mkdtemp(prefix="ailab-jobs-", dir="/tmp"))
        os.chmod(_JOB_ROOT, 0o711)
    return _JOB_ROOT


def open_dir(name: str) -> Path:
    """A directory under the job root that every job user may write (for test markers)."""
    path = job_root() / name
    path.mkdir(exist_ok=True)
    os.chmod(path, 0o1777)
    return path


def account(name: str) -> tuple[str, int, int]:
    """(name, uid, gid) of a real Unix account: ``name`` made with useradd as root, else the
    current user (single-user mode runs every job as the server's user)."""
    if not IS_ROOT:
        entry = pwd.getpwuid(os.getuid())
        return entry.pw_name, entry.pw_uid, entry.pw_gid
    with open("/tmp/.ailab-test-accounts.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return entry.pw_name, entry.pw_uid, entry.pw_gid
        subprocess.run(
            ["useradd", "-U", "-M", "-d", "/nonexistent", "-s", "/bin/sh", "-K", "UID_MIN=30000",
             name],
            check=True,
            capture_output=True,
        )  # fmt: skip
    entry = pwd.getpwnam(name)
    return entry.pw_name, entry.pw_uid, entry.pw_gid


def require_root() -> None:
    """Isolation between users needs root. CI runs as root and sets AILAB_REQUIRE_ROOT, so
    there a missing root is a failure, never a skip."""
    if IS_ROOT:
        return
    if os.environ.get("AILAB_REQUIRE_ROOT"):
        pytest.fail("AILAB_REQUIRE_ROOT is set but the tests do not run as root")
    pytest.skip("needs root to run jobs as other Unix users")
