"""The Slurm suite runs against the development cluster (``scripts/slurm-dev-cluster.sh``).

Without it, every test that needs it is skipped with a reason that says how to start it;
with ``AILAB_REQUIRE_SLURM=1`` (CI) they fail instead, so a CI run cannot pass by skipping.
"""

from __future__ import annotations

import datetime as dt
import os
import pwd
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ailab.execution.slurm import SlurmBackend
from ailab.execution.slurm_accounts import Account, Limits, Sacctmgr
from ailab.execution.slurm_commands import SlurmCommands

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "slurm-dev-cluster.sh"
SKIP_REASON = "Slurm dev cluster not running: start it with `scripts/slurm-dev-cluster.sh start`"
CLUSTER = "ailab"
NODE = "ailab0"
TEST_USERS = ("ailab-alice", "ailab-bob", "ailab-carol")


@dataclass(frozen=True)
class SlurmCluster:
    """The running development cluster, and a root account of this test session's own."""

    name: str
    node: str
    root: str  # accounts made by this session live below it
    commands: SlurmCommands

    def sacctmgr(self) -> Sacctmgr:
        return Sacctmgr(self.commands, cluster=self.name, root=self.root)

    def sacctmgr_for(self, root: str) -> Sacctmgr:
        return Sacctmgr(self.commands, cluster=self.name, root=root)

    def backend(self, **kwargs: object) -> SlurmBackend:
        return SlurmBackend(**kwargs)  # type: ignore[arg-type]

    def account(self, prefix: str = "t", *, gpu_minutes: int | None = None) -> str:
        """A fresh account under the session root, with the user running the tests and the
        test members (``TEST_USERS``) associated: jobs run as their own users."""
        name = f"{prefix}{secrets.token_hex(4)}"
        tool = self.sacctmgr()
        tool.add_account(Account(name, self.root, Limits(fairshare=100, gpu_minutes=gpu_minutes)))
        tool.add_users(name, {_whoami(), *TEST_USERS})
        return name


def _whoami() -> str:
    return pwd.getpwuid(os.getuid()).pw_name


def _cluster_up() -> bool:
    if not SCRIPT.exists() or shutil.which("sinfo") is None:
        return False
    try:
        done = subprocess.run(
            ["bash", str(SCRIPT), "status"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[SlurmCluster]:
    """The development cluster; skips (fails under AILAB_REQUIRE_SLURM=1) when it is down."""
    if not _cluster_up():
        if os.environ.get("AILAB_REQUIRE_SLURM") == "1":
            pytest.fail(f"AILAB_REQUIRE_SLURM=1 but: {SKIP_REASON}", pytrace=False)
        pytest.skip(SKIP_REASON)
    cluster = SlurmCluster(
        name=CLUSTER,
        node=NODE,
        root=f"ailabtest{secrets.token_hex(3)}",
        commands=SlurmCommands(timeout_s=30),
    )
    cluster.sacctmgr().ensure_root()
    yield cluster
    _remove_tree(cluster)


def _remove_tree(cluster: SlurmCluster) -> None:
    """Best effort: cancel this session's jobs. Its accounts stay (marked by the session
    root's name): removing accounts while another session works made 22.05's slurmdbd
    crash, and a few idle accounts cost nothing on a development cluster."""
    try:
        for name in sorted(cluster.sacctmgr().tree()):
            cluster.commands.run(["scancel", "-A", name], ok_codes=(0, 1))
    except Exception:  # cleanup must not hide the tests' own result
        pass


@pytest.fixture
def make_account(slurm_cluster: SlurmCluster) -> Callable[..., str]:
    return slurm_cluster.account


# Django side ----------------------------------------------------------------------------


@dataclass
class SlurmLab:
    """An ailab lab whose cluster runs on the development Slurm cluster."""

    slurm: SlurmCluster
    root: str  # this test's own lab root account (below the session root)
    staff: Any
    org: Any
    cluster: Any

    def member(self, unix_user: str = "ailab-alice", *, posix: bool = True) -> Any:
        """An ailab user ``<unix_user>@lab.test``; with ``posix``, lab staff give them the
        POSIX account ``unix_user`` with the uid and gid it has on this machine."""
        from ailab.accounts.models import User
        from ailab.accounts.posix import posix_account_of, posix_account_set
        from ailab.accounts.services import user_create

        email = f"{unix_user}@lab.test"
        user = User.objects.filter(email=email).first() or user_create(email=email)
        if posix and posix_account_of(user) is None:
            entry = pwd.getpwnam(unix_user)
            posix_account_set(
                actor=self.staff, user=user, username=unix_user, uid=entry.pw_uid, gid=entry.pw_gid
            )
        return user

    def grant(self, *, gpu_hours: int = 10, days: tuple[int, int] = (-1, 30), **kw: Any) -> Any:
        from ailab.compute.services import allocation_grant

        today = dt.datetime.now(dt.UTC).date()
        account = f"a{secrets.token_hex(4)}"
        fields: dict[str, Any] = {
            "actor": self.staff,
            "organisation": self.org,
            "name": f"Team {account}",
            "account": account,
            "gpu_hours": gpu_hours,
            "starts_on": today + dt.timedelta(days=days[0]),
            "ends_on": today + dt.timedelta(days=days[1]),
            "cluster": self.cluster,
        }
        fields.update(kw)
        return allocation_grant(**fields)


@pytest.fixture
def slurm_lab(
    slurm_cluster: SlurmCluster, db: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> SlurmLab:
    """Lab staff, an organisation, the Slurm cluster row, and a fresh lab root account."""
    from ailab.accounts.services import organisation_create, user_create
    from ailab.compute.services import cluster_default

    root = f"r{secrets.token_hex(4)}"
    slurm_cluster.sacctmgr().add_account(Account(root, slurm_cluster.root))
    monkeypatch.setenv("AILAB_SLURM_ROOT_ACCOUNT", root)
    monkeypatch.setenv("AILAB_BACKEND", "slurm")
    monkeypatch.setenv("AILAB_CLUSTER", slurm_cluster.name)
    monkeypatch.setenv("AILAB_SLURM_CLUSTER", slurm_cluster.name)
    monkeypatch.setenv("AILAB_SLURM_SERVICE_USER", _whoami())
    monkeypatch.setenv("AILAB_DATA_DIR", str(tmp_path))
    # Each test's database starts job ids at 1 again: keep their Slurm comments apart.
    monkeypatch.setenv("AILAB_SLURM_INSTANCE", f"test{secrets.token_hex(4)}")
    staff = user_create(email="staff@lab.test", is_staff=True)
    org = organisation_create(actor=staff, name="Slurm Org", kind="startup")
    return SlurmLab(slurm_cluster, root, staff, org, cluster_default())
