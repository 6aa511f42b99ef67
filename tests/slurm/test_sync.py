"""Allocations <-> Slurm accounts on the development cluster: sync, check, hooks, import."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from decimal import Decimal

import pytest
from click.testing import CliRunner

from ailab.cli import main
from ailab.compute import hooks
from ailab.compute.models import Allocation, AllocationState
from ailab.compute.services import allocation_member_set, allocation_update
from ailab.compute.slurm_sync import register_hooks, slurm_check, slurm_import, slurm_sync
from ailab.execution.base import BackendError, JobSpec
from ailab.execution.slurm import SlurmBackend
from ailab.execution.slurm_accounts import Account, Limits

from .conftest import SlurmLab, _whoami

pytestmark = pytest.mark.slurm


def test_sync_creates_the_account_and_a_second_run_changes_nothing(slurm_lab: SlurmLab) -> None:
    """Budget -> GrpTRESMins, weight -> Fairshare, members -> associations; then 0 changes."""
    alice = slurm_lab.member("ailab-alice")
    allocation = slurm_lab.grant(gpu_hours=10, weight=Decimal("1.5"), members=[alice])
    first = slurm_sync(cluster=slurm_lab.cluster)
    assert [c.kind for c in first.changes] == ["add_account", "add_users"]
    account = slurm_lab.slurm.sacctmgr_for(slurm_lab.root).tree()[allocation.account]
    assert account.parent == slurm_lab.root
    assert account.limits == Limits(fairshare=150, gpu_minutes=600, blocked=False)
    assert account.users == {"ailab-alice", _whoami()}
    assert slurm_sync(cluster=slurm_lab.cluster).changes == []
    result = CliRunner().invoke(main, ["slurm", "sync"])
    assert result.exit_code == 0, result.output
    assert "0 changes made" in result.output


def test_check_reports_a_manual_sacctmgr_change_and_changes_nothing(slurm_lab: SlurmLab) -> None:
    """After `sacctmgr modify ... fairshare=7`, check exits 1 naming it; sync puts it back."""
    allocation = slurm_lab.grant()
    slurm_sync(cluster=slurm_lab.cluster)
    assert CliRunner().invoke(main, ["slurm", "check"]).exit_code == 0
    slurm_lab.slurm.commands.run(
        ["sacctmgr", "-i", "modify", "account", "where", f"name={allocation.account}",
         "set", "fairshare=7", "grptresmins=gres/gpu=999999"]
    )  # fmt: skip
    result = CliRunner().invoke(main, ["slurm", "check"])
    assert result.exit_code == 1, result.output
    assert allocation.account in result.output
    assert "Fairshare=7" in result.output
    assert "gres/gpu=999999" in result.output
    # check changed nothing
    assert CliRunner().invoke(main, ["slurm", "check"]).exit_code == 1
    assert len(slurm_sync(cluster=slurm_lab.cluster).changes) == 1
    result = CliRunner().invoke(main, ["slurm", "check"])
    assert result.exit_code == 0, result.output
    assert "in step" in result.output


def test_check_reports_missing_accounts_and_unmanaged_ones(slurm_lab: SlurmLab) -> None:
    """An allocation not yet in Slurm and an account ailab does not know are both drift."""
    allocation = slurm_lab.grant()
    stray = f"stray{secrets.token_hex(3)}"
    slurm_lab.slurm.sacctmgr_for(slurm_lab.root).add_account(Account(stray, slurm_lab.root))
    report = slurm_check(cluster=slurm_lab.cluster)
    assert [(c.kind, c.account) for c in report.changes] == [
        ("add_account", allocation.account),
        ("add_users", allocation.account),
    ]
    assert [c.account for c in report.unmanaged] == [stray]
    slurm_sync(cluster=slurm_lab.cluster)
    assert stray in slurm_lab.slurm.sacctmgr_for(slurm_lab.root).tree()  # left alone


@pytest.fixture
def hooked() -> Iterator[None]:
    before = list(hooks.on_allocation_changed)
    register_hooks()
    register_hooks()  # idempotent
    yield
    hooks.on_allocation_changed[:] = before


def test_changing_an_allocation_syncs_its_account(
    slurm_lab: SlurmLab, hooked: None, django_capture_on_commit_callbacks: object
) -> None:
    """With the hook registered, grant/update/member changes reach Slurm after commit."""
    capture = django_capture_on_commit_callbacks
    with capture(execute=True):  # type: ignore[operator]
        allocation = slurm_lab.grant(gpu_hours=5)
    tool = slurm_lab.slurm.sacctmgr_for(slurm_lab.root)
    assert tool.tree()[allocation.account].limits.gpu_minutes == 300
    with capture(execute=True):  # type: ignore[operator]
        allocation_update(
            actor=slurm_lab.staff, allocation=allocation, gpu_hours=20, weight=Decimal(2)
        )
    assert tool.tree()[allocation.account].limits == Limits(200, 1200, False)
    with capture(execute=True):  # type: ignore[operator]
        allocation_member_set(
            actor=slurm_lab.staff, allocation=allocation, user=slurm_lab.member("ailab-bob")
        )
    assert "ailab-bob" in tool.tree()[allocation.account].users
    assert slurm_check(cluster=slurm_lab.cluster).changes == []


def test_expired_allocation_stops_new_jobs(slurm_lab: SlurmLab, tmp_path: object) -> None:
    """An expired allocation's account refuses new jobs (GrpSubmitJobs=0, GrpJobs=0)."""
    allocation = slurm_lab.grant(days=(-30, -1))
    assert allocation.state == AllocationState.EXPIRED
    slurm_sync(cluster=slurm_lab.cluster)
    tree = slurm_lab.slurm.sacctmgr_for(slurm_lab.root).tree()
    assert tree[allocation.account].limits.blocked
    spec = JobSpec(
        job_id=f"expired-{allocation.account}",
        name="expired",
        command=("true",),
        gpus=1,
        time_limit_s=60,
        account=allocation.account,
        workdir="/tmp",
        stdout_path="/dev/null",
    )
    with pytest.raises(BackendError, match="sbatch"):
        SlurmBackend().submit(spec)


def test_import_adopts_an_existing_account_tree(slurm_lab: SlurmLab) -> None:
    """Accounts under the root become allocations (GrpTRESMins -> budget, Fairshare ->
    weight, users -> members); a second import adopts nothing new."""
    tool = slurm_lab.slurm.sacctmgr_for(slurm_lab.root)
    legacy = f"legacy{secrets.token_hex(3)}"  # account names are global in a Slurm cluster
    tool.add_account(
        Account(
            legacy,
            slurm_lab.root,
            Limits(fairshare=250, gpu_minutes=120),
            description="Legacy Team",
            organization="legacy-org",
        )
    )
    tool.add_users(legacy, {"ailab-bob", "ailab-carol"})
    report = slurm_import(actor=slurm_lab.staff, cluster=slurm_lab.cluster)
    assert report.allocations == [legacy]
    assert sorted(report.members) == [f"{legacy}: ailab-bob", f"{legacy}: ailab-carol"]
    allocation = Allocation.objects.get(cluster=slurm_lab.cluster, account=legacy)
    assert allocation.budget_gpu_seconds == 2 * 3600
    assert allocation.weight == Decimal("2.5")
    assert allocation.name == "legacy team"  # Slurm keeps descriptions in lower case
    assert allocation.organisation.name == "legacy-org"
    assert sorted(u.email for u in allocation.members.all()) == [
        "ailab-bob@slurm.invalid",
        "ailab-carol@slurm.invalid",
    ]
    again = slurm_import(actor=slurm_lab.staff, cluster=slurm_lab.cluster)
    assert again.allocations == []
    assert again.members == []
    # adopted: from now on ailab is the source of truth, and sync brings Slurm in step
    slurm_sync(cluster=slurm_lab.cluster)
    assert slurm_check(cluster=slurm_lab.cluster).drift is False
    assert allocation.ends_on > dt.datetime.now(dt.UTC).date()
