"""Configuration from the environment, and the ailab command's own behaviour."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ailab.common.errors import InvalidTransition, ValidationError
from ailab.common.transitions import Transitions


def _run(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("AILAB_", "DJANGO_"))}
    full_env.update({"AILAB_DATA_DIR": str(tmp_path), **env})
    return subprocess.run(
        [sys.executable, "-m", "ailab.cli", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_refuses_to_start_without_secret_key_when_debug_is_off(tmp_path: Path) -> None:
    """Debug off and no AILAB_SECRET_KEY: exit non-zero with one line naming the variable."""
    result = _run(["demo"], {"AILAB_DEBUG": "0"}, tmp_path)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "AILAB_SECRET_KEY" in lines[0]
    assert "Traceback" not in result.stderr


def test_help_lists_every_command_with_one_line(tmp_path: Path) -> None:
    """`ailab --help` lists the lab's commands, each with its one-line help."""
    result = _run(["--help"], {}, tmp_path)
    assert result.returncode == 0
    for name in ("run", "demo", "token", "worker", "sim", "job", "login"):
        assert any(line.split()[:1] == [name] for line in result.stdout.splitlines()), name


@pytest.mark.slow
def test_demo_is_idempotent_and_token_create_prints_a_working_token(tmp_path: Path) -> None:
    """`ailab demo` twice gives the same lab; `ailab token create` prints one token that the
    API accepts; an unknown user is one clear error line."""
    env = {"AILAB_DEBUG": "1", "AILAB_LOCAL_GPUS": "2"}
    first = _run(["demo", "--json"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    second = _run(["demo", "--json"], env, tmp_path)
    assert second.returncode == 0, second.stderr
    assert first.stdout == second.stdout
    token = _run(["token", "create", "--user", "staff@ailab.local"], env, tmp_path)
    assert token.returncode == 0, token.stderr
    assert token.stdout.strip().startswith("ailab_")
    assert len(token.stdout.strip().splitlines()) == 1
    missing = _run(["token", "create", "--user", "nobody@example.com"], env, tmp_path)
    assert missing.returncode != 0
    assert "--user" in missing.stderr


def test_sqlite_database_lives_in_the_data_directory() -> None:
    """With no AILAB_DATABASE_URL the default database is SQLite in AILAB_DATA_DIR."""
    code = (
        "import os; os.environ['AILAB_DATA_DIR']='/tmp/ailab-cfg'; os.environ['AILAB_DEBUG']='1';"
        "os.environ.pop('AILAB_DATABASE_URL', None);"
        "from ailab.config import settings as s; print(s.DATABASES['default']['NAME'])"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AILAB_")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "/tmp/ailab-cfg/ailab.sqlite3", out.stderr


def test_transitions_are_checked_in_one_place() -> None:
    """Declared transitions allow exactly what they list; the rest raise InvalidTransition."""
    t = Transitions(
        "job", {"pending": {"running", "cancelled"}, "running": {"done"}, "done": set()}
    )
    assert t.can("pending", "running")
    assert not t.can("done", "running")
    with pytest.raises(InvalidTransition) as exc:
        t.check("running", "pending")
    assert exc.value.field == "status"
    assert t.terminal == frozenset({"done", "cancelled"})


def test_validation_error_carries_every_field() -> None:
    """A ValidationError built from several errors reports the first and lists all."""
    err = ValidationError(errors=[("name", "required"), ("kind", "unknown")])
    assert err.field == "name"
    assert [e["field"] for e in err.errors] == ["name", "kind"]
    assert str(err) == "name: required"
