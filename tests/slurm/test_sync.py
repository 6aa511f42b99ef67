"""Allocations <-> Slurm accounts on the development cluster: sync, check, hooks, import."""

from __future__ import annotations

import datetime as dt
import pwd
import secrets
from collections.abc import Iterator
from decimal import Decimal

import pytest
from click.testing import CliRunner

from ailab.accounts.posix import posix_account_of, posix_account_set
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


def test_members_map_through_their_posix_account_never_their_email(slurm_lab: SlurmLab) -> None:
    """A member's Slurm user is their POSIX username (not the email's local part); a member
    without a POSIX account is left out, and sync, check and the CLI say so."""
    from ailab.accounts.posix import posix_account_set
    from ailab.accounts.services import user_create

    founder = user_create(email="ailab-bob@startup-one.example")  # local part: ailab-bob
    posix_account_set(actor=slurm_lab.staff, user=founder, username="ailab-carol")
    unmapped = slurm_lab.member("ailab-alice", posix=False)
    allocation = slurm_lab.grant(members=[founder, unmapped])
    report = slurm_sync(cluster=slurm_lab.cluster)
    users = slurm_lab.slurm.sacctmgr_for(slurm_lab.root).tree()[allocation.account].users
    assert users == {"ailab-carol", _whoami()}
    assert report.skipped == [
        f"{allocation.account}: ailab-alice@lab.test has no Unix account "
        "(ailab users posix set EMAIL USERNAME); not associated"
    ]
    assert slurm_check(cluster=slurm_lab.cluster).drift is False
    result = CliRunner().invoke(main, ["slurm", "check"])
    assert result.exit_code == 0, result.output
    assert "skipped" in result.output
    assert "ailab-alice@lab.test has no Unix account" in result.output


def test_per_user_mode_associates_no_service_user_by_default(
    slurm_lab: SlurmLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without AILAB_SLURM_SERVICE_USER, per-user mode associates only the members; service
    mode associates the user ailab runs as with every account."""
    from ailab.compute.slurm_sync import service_user

    monkeypatch.delenv("AILAB_SLURM_SERVICE_USER")
    monkeypatch.delenv("AILAB_SLURM_SUBMIT_AS", raising=False)
    assert service_user() == ""
    allocation = slurm_lab.grant(members=[slurm_lab.member("ailab-bob")])
    slurm_sync(cluster=slurm_lab.cluster)
    tool = slurm_lab.slurm.sacctmgr_for(slurm_lab.root)
    assert tool.tree()[allocation.account].users == {"ailab-bob"}
    monkeypatch.setenv("AILAB_SLURM_SUBMIT_AS", "service")
    assert service_user() == _whoami()
    slurm_sync(cluster=slurm_lab.cluster)
    assert tool.tree()[allocation.account].users == {"ailab-bob", _whoami()}


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
    weight, users -> members: new ailab users with POSIX accounts of the Slurm user's name
    and uid); a second import adopts nothing new."""
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
    for member in allocation.members.all():
        posix = posix_account_of(member)
        assert posix is not None
        entry = pwd.getpwnam(member.email.split("@")[0])
        assert (posix.username, posix.uid, posix.gid) == (entry.pw_name, entry.pw_uid, entry.pw_gid)
    again = slurm_import(actor=slurm_lab.staff, cluster=slurm_lab.cluster)
    assert again.allocations == []
    assert again.members == []
    # adopted: from now on ailab is the source of truth, and sync brings Slurm in step
    slurm_sync(cluster=slurm_lab.cluster)
    assert slurm_check(cluster=slurm_lab.cluster).drift is False
    assert allocation.ends_on > dt.datetime.now(dt.UTC).date()


def test_import_maps_slurm_users_through_posix_accounts_and_skips_strangers(
    slurm_lab: SlurmLab,
) -> None:
    """A Slurm user whose name is some ailab user's POSIX account becomes that user's
    membership (whatever their email); a Slurm user with no Unix account on this machine is
    skipped with the reason, and nothing is made for them."""
    from ailab.accounts.models import User
    from ailab.accounts.services import user_create

    carol = user_create(email="carol@startup-two.example")
    posix_account_set(actor=slurm_lab.staff, user=carol, username="ailab-carol")
    tool = slurm_lab.slurm.sacctmgr_for(slurm_lab.root)
    team = f"team{secrets.token_hex(3)}"
    tool.add_account(Account(team, slurm_lab.root, Limits(fairshare=100, gpu_minutes=60)))
    tool.add_users(team, {"ailab-carol", "ailab-nosuchuser"})
    report = slurm_import(actor=slurm_lab.staff, cluster=slurm_lab.cluster)
    assert report.members == [f"{team}: ailab-carol"]
    assert report.skipped == [
        f"{team}: Slurm user ailab-nosuchuser: no Unix user 'ailab-nosuchuser' on this "
        "machine to take its uid from"
    ]
    allocation = Allocation.objects.get(cluster=slurm_lab.cluster, account=team)
    assert list(allocation.members.all()) == [carol]
    assert not User.objects.filter(email__startswith="ailab-nosuchuser").exists()
    assert not User.objects.filter(email="ailab-carol@slurm.invalid").exists()
    result = CliRunner().invoke(main, ["slurm", "import"])
    assert result.exit_code == 0, result.output
    assert "skipped" in result.output
    assert "ailab-nosuchuser" in result.output
