"""Hardening of the configuration: mail, HTTPS headers, the generated secret key, the demo
only on request. Each runs the real `ailab` command in a fresh data directory."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

KEY = secrets.token_urlsafe(50)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AILAB_", "DJANGO_"))}
    env.update({"AILAB_DATA_DIR": str(tmp_path), **extra})
    return env


def _ailab(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ailab.cli", *args],
        env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def test_console_mail_is_refused_with_debug_off_unless_chosen(tmp_path: Path) -> None:
    """Debug off with the console backend (which would print reset links into the log):
    one error line naming AILAB_EMAIL_BACKEND; AILAB_EMAIL_BACKEND=console on purpose and
    the default (smtp) both start."""
    console = "django.core.mail.backends.console.EmailBackend"
    refused = _ailab(
        ["manage", "check"], _env(tmp_path, AILAB_SECRET_KEY=KEY, AILAB_EMAIL_BACKEND=console)
    )
    assert refused.returncode != 0
    assert "AILAB_EMAIL_BACKEND" in refused.stderr
    assert "Traceback" not in refused.stderr
    chosen = _ailab(
        ["manage", "check"], _env(tmp_path, AILAB_SECRET_KEY=KEY, AILAB_EMAIL_BACKEND="console")
    )
    assert chosen.returncode == 0, chosen.stderr
    default = _ailab(["manage", "check"], _env(tmp_path, AILAB_SECRET_KEY=KEY))
    assert default.returncode == 0, default.stderr


def test_check_deploy_is_clean_with_https(tmp_path: Path) -> None:
    """`manage check --deploy` with debug off and AILAB_HTTPS=1 reports no issue at all;
    without HTTPS it does warn (so the check is really looking)."""
    env = _env(
        tmp_path, AILAB_SECRET_KEY=KEY, AILAB_HTTPS="1", AILAB_ALLOWED_HOSTS="lab.example.org"
    )
    result = _ailab(["manage", "check", "--deploy"], env)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr
    assert "WARNINGS" not in result.stdout + result.stderr
    plain = _ailab(["manage", "check", "--deploy"], _env(tmp_path, AILAB_SECRET_KEY=KEY))
    assert "security.W004" in plain.stdout + plain.stderr  # no HSTS without HTTPS


def test_server_commands_read_the_generated_secret_key(tmp_path: Path) -> None:
    """With debug off and no AILAB_SECRET_KEY, commands use the key `make run` wrote to the
    data directory: `ailab token create` prints a token (as the README says)."""
    (tmp_path / "secret_key").write_text(KEY + "\n")
    env = _env(tmp_path, DJANGO_SUPERUSER_PASSWORD="pw-123456-test")
    assert _ailab(["manage", "migrate", "--no-input", "-v", "0"], env).returncode == 0
    made = _ailab(["manage", "createsuperuser", "--no-input", "--email", "boss@lab.example"], env)
    assert made.returncode == 0, made.stderr
    token = _ailab(["token", "create", "--user", "boss@lab.example"], env)
    assert token.returncode == 0, token.stderr
    assert token.stdout.strip().startswith("ailab_")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_run_without_demo_creates_no_demo_users(tmp_path: Path) -> None:
    """`ailab run` serves the lab with no demo users (the published demo password never
    exists unless `--demo` is given)."""
    port = _free_port()
    env = _env(tmp_path, AILAB_DEBUG="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ailab.cli", "run", "--port", str(port), "--no-scheduler",
         "--workers", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("ailab run did not serve within 120 s")
        login = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/me", headers={"Authorization": "Bearer ailab_x"}
        )
        assert login.status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    count = _ailab(
        ["manage", "shell", "-c",
         "from ailab.accounts.models import User; print(User.objects.count())"],
        env,
    )  # fmt: skip
    assert count.stdout.strip().splitlines()[-1] == "0", count.stdout + count.stderr
