"""The import contracts bite: a forbidden import added to a copy of the source breaks them;
views and API modules do not touch the ORM."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "ailab"


def _lint(tmp_path: Path, extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    copy = tmp_path / "src"
    shutil.copytree(SRC, copy / "ailab", ignore=shutil.ignore_patterns("__pycache__"))
    for rel, text in extra.items():
        (copy / "ailab" / rel).write_text(text)
    lint = Path(sys.executable).parent / "lint-imports"
    return subprocess.run(
        [str(lint), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_programmes_importing_the_loop_breaks_the_contracts(tmp_path: Path) -> None:
    """``programmes -> compute.loop`` (an internal of compute) fails lint-imports, naming
    the protected contract; the unchanged copy passes."""
    clean = _lint(tmp_path / "clean", {})
    assert clean.returncode == 0, clean.stdout[-2000:]
    probe = "from ailab.compute.loop import Loop  # noqa: F401\n"
    broken = _lint(tmp_path / "probe", {"programmes/probe.py": probe})
    assert broken.returncode != 0
    assert "compute's models and internals are compute's own BROKEN" in broken.stdout


_ORM = re.compile(r"\.objects\b|from django\.db import|\.select_related\(|\.filter\(")
# Views still reading the ORM themselves (owned elsewhere); a test below keeps the list true.
NOT_YET = {
    "accounts/api.py",
    "accounts/views.py",
    "common/api.py",
    "events/api.py",
    "events/views.py",
    "compute/api.py",
    "fund/api.py",
    "programmes/api_cohorts.py",
    "programmes/views.py",
    "programmes/views_cohorts.py",
    "programmes/views_review.py",
}


def _view_modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if re.match(r"(views|api)(_\w+)?\.py$", p.name))


def _touching_orm() -> set[str]:
    return {str(p.relative_to(SRC)) for p in _view_modules() if _ORM.search(p.read_text())}


def test_views_and_api_modules_do_not_touch_the_orm() -> None:
    """Views and API endpoints only translate (DESIGN.md rule 1): no ``.objects``, no
    ``django.db`` import, no query building; they call selectors and services."""
    assert _touching_orm() - NOT_YET == set()


def test_the_orm_check_sees_a_query() -> None:
    """The pattern catches a view that queries (so the test above can fail)."""
    assert _ORM.search("jobs = Job.objects.filter(user=request.user)")
    assert not _ORM.search("jobs = job_list_visible_to(user)")


def test_the_not_yet_list_holds_only_modules_that_still_need_it() -> None:
    """Each excused module still queries: once it does not, it leaves the list."""
    assert _touching_orm() >= NOT_YET
