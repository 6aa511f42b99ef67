"""Single-user mode says so: on the cluster page, in GET /cluster and in ailab cluster
status. Lab mode does not warn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from django.test import Client

from ailab.accounts.services import token_create
from ailab.cli import main
from tests.compute.conftest import Lab

WARNING = "not isolated"


@pytest.mark.parametrize(("mode", "isolated"), [("none", False), ("users", True)])
@pytest.mark.django_db
def test_the_page_and_the_api_say_whether_jobs_are_isolated(
    lab: Lab, monkeypatch: pytest.MonkeyPatch, mode: str, isolated: bool
) -> None:
    """AILAB_LOCAL_ISOLATION=none: the board warns and the API says isolated=false."""
    monkeypatch.setenv("AILAB_LOCAL_ISOLATION", mode)
    raw = token_create(actor=lab.member, user=lab.member, name="t").raw
    rows = Client(headers={"Authorization": f"Bearer {raw}"}).get("/api/v1/cluster").json()
    assert [row["isolated"] for row in rows] == [isolated]
    client = Client()
    client.force_login(lab.member)
    page = client.get("/cluster/").content.decode()
    assert (WARNING in page) is not isolated


@pytest.mark.django_db(transaction=True)
def test_the_cli_says_jobs_are_not_isolated(
    lab: Lab, live_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ailab cluster status`` against a single-user-mode server prints the note."""
    monkeypatch.setenv("AILAB_LOCAL_ISOLATION", "none")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("AILAB_URL", raising=False)
    monkeypatch.delenv("AILAB_TOKEN", raising=False)
    token = token_create(actor=lab.member, user=lab.member, name="cli").raw
    runner = CliRunner()
    login = runner.invoke(main, ["login", "--url", live_server.url, "--token", token])
    assert login.exit_code == 0, login.output
    status = runner.invoke(main, ["cluster", "status"])
    assert status.exit_code == 0, status.output
    assert "NOT isolated" in status.output
