"""Allocations <-> Slurm accounts: sync, check (drift) and import, like ColdFront's sacctmgr
integration, driven from ailab's allocations.

Per Slurm cluster (a ``Cluster`` with ``backend=slurm``; its Slurm name is
``AILAB_SLURM_CLUSTER`` or else the cluster's own name):

- each allocation is an account under the lab root account (``AILAB_SLURM_ROOT_ACCOUNT``,
  default ``ailab``), named by ``Allocation.account``;
- its members are user associations: a member's Slurm user is their POSIX account's username
  (``ailab.accounts.posix``, assigned by lab staff; never derived from the email); members
  without one are left out, and the report says so. With ``AILAB_SLURM_SUBMIT_AS=service``
  the service user that submits every job (``AILAB_SLURM_SERVICE_USER``, default the Unix
  user running ailab) is associated with every account too; in the default per-user mode
  only when ``AILAB_SLURM_SERVICE_USER`` names one;
- budget -> ``GrpTRESMins=gres/gpu=<budget minutes>``; weight -> ``Fairshare``
  (weight x 100); not active (expired, exhausted, not started) -> ``GrpSubmitJobs=0`` and
  ``GrpJobs=0``.

``slurm_sync`` applies the difference and is idempotent; ``slurm_check`` only reports it;
``slurm_import`` adopts accounts found under the root into ailab. ``register_hooks`` makes a
change to an allocation sync its account after commit.
"""

from __future__ import annotations

import datetime as dt
import getpass
import logging
import pwd
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from ailab.accounts import services as account_services
from ailab.accounts.models import Organisation, OrganisationKind, PosixAccount, User
from ailab.accounts.posix import posix_account_by_username, posix_account_of, posix_account_set
from ailab.common.errors import DomainError, ValidationError
from ailab.compute import hooks
from ailab.compute.models import Allocation, AllocationState, Backend, Cluster
from ailab.compute.services import allocation_grant, allocation_member_set, cluster_default
from ailab.config.env import env_str
from ailab.execution.base import BackendError
from ailab.execution.slurm_accounts import (
    FAIRSHARE_SCALE,
    Account,
    Change,
    Limits,
    Sacctmgr,
    diff,
    fairshare,
    gpu_minutes,
)
from ailab.execution.slurm_commands import SlurmCommands
from ailab.execution.slurm_script import SUBMIT_AS_SERVICE, SUBMIT_AS_USER

log = logging.getLogger(__name__)


@dataclass
class SyncReport:
    cluster: str
    changes: list[Change] = field(default_factory=list)  # applied (sync) or found (check)
    unmanaged: list[Change] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # members left out, and why

    @property
    def drift(self) -> bool:
        return bool(self.changes or self.unmanaged)


def slurm_clusters(name: str | None = None) -> list[Cluster]:
    """The clusters run by Slurm (one by name, if given)."""
    if env_str("AILAB_BACKEND", "") == Backend.SLURM:
        cluster_default()  # the configured Slurm cluster exists from the first command on
    qs = Cluster.objects.filter(backend=Backend.SLURM)
    if name:
        qs = qs.filter(name=name)
        if not qs.exists():
            raise ValidationError(f"no Slurm cluster named {name!r}", field="cluster")
    return list(qs)


def slurm_name(cluster: Cluster) -> str:
    return env_str("AILAB_SLURM_CLUSTER", "") or cluster.name


def root_account() -> str:
    return env_str("AILAB_SLURM_ROOT_ACCOUNT", "ailab")


def service_user() -> str:
    """The Unix user associated with every account: in service mode the one that submits
    every job (default: whoever runs ailab); in per-user mode none unless configured."""
    service = env_str("AILAB_SLURM_SUBMIT_AS", SUBMIT_AS_USER) == SUBMIT_AS_SERVICE
    return env_str("AILAB_SLURM_SERVICE_USER", getpass.getuser() if service else "").strip()


def slurm_users_for(users: Iterable[User]) -> dict[int, str]:
    """Each user's Slurm (Unix) user name, by user id: their POSIX account's username.
    Users without a POSIX account are absent."""
    ids = [u.pk for u in users]
    return dict(PosixAccount.objects.filter(user_id__in=ids).values_list("user_id", "username"))


def sacctmgr_for(cluster: Cluster) -> Sacctmgr:
    commands = SlurmCommands(timeout_s=float(env_str("AILAB_SLURM_TIMEOUT", "30")))
    return Sacctmgr(commands, cluster=slurm_name(cluster), root=root_account())


def wanted_account(
    allocation: Allocation, *, today: dt.date | None = None, skipped: list[str] | None = None
) -> Account:
    """The account Slurm should have for ``allocation``; members without a POSIX account
    are left out and named in ``skipped``."""
    members = list(allocation.members.all())
    names = slurm_users_for(members)
    users = set(names.values())
    for member in members:
        if member.pk not in names and skipped is not None:
            skipped.append(
                f"{allocation.account}: {member.email} has no Unix account "
                "(ailab users posix set EMAIL USERNAME); not associated"
            )
    if service_user():
        users.add(service_user())
    today = today or timezone.now().date()  # as compute's allocation_state_for does
    active = allocation.state == AllocationState.ACTIVE and (
        allocation.starts_on <= today <= allocation.ends_on
    )
    return Account(
        name=allocation.account,
        parent=root_account(),
        limits=Limits(
            fairshare=fairshare(float(allocation.weight)),
            gpu_minutes=gpu_minutes(allocation.budget_gpu_seconds),
            blocked=not active,
        ),
        users=frozenset(users),
        description=allocation.name[:100],
        organization=allocation.organisation.slug[:100],
    )


def wanted_tree(cluster: Cluster, skipped: list[str] | None = None) -> dict[str, Account]:
    allocations = (
        Allocation.objects.filter(cluster=cluster)
        .select_related("organisation")
        .prefetch_related("members")
    )
    return {a.account: wanted_account(a, skipped=skipped) for a in allocations}


def _split(changes: list[Change], cluster: Cluster, skipped: list[str]) -> SyncReport:
    report = SyncReport(cluster=cluster.name, skipped=skipped)
    for change in changes:
        (report.unmanaged if change.kind == "unmanaged" else report.changes).append(change)
    return report


def slurm_check(*, cluster: Cluster) -> SyncReport:
    """The drift between ailab's allocations and Slurm's accounts; changes nothing."""
    tool = sacctmgr_for(cluster)
    skipped: list[str] = []
    return _split(diff(wanted_tree(cluster, skipped), tool.tree()), cluster, skipped)


def slurm_sync(*, cluster: Cluster, only: str | None = None) -> SyncReport:
    """Make Slurm's accounts match ailab's allocations (one account with ``only``).

    Idempotent: a second run finds nothing to change. Accounts under the root that ailab
    does not know are reported, never removed.
    """
    tool = sacctmgr_for(cluster)
    tool.ensure_root()
    skipped: list[str] = []
    wanted = wanted_tree(cluster, skipped)
    actual = tool.tree()
    if only is not None:
        wanted = {k: v for k, v in wanted.items() if k == only}
        actual = {k: v for k, v in actual.items() if k == only}
        skipped = [s for s in skipped if s.startswith(f"{only}: ")]
    report = _split(diff(wanted, actual), cluster, skipped)
    tool.apply(report.changes)
    return report


# Import ---------------------------------------------------------------------------------


@dataclass
class ImportReport:
    cluster: str
    allocations: list[str] = field(default_factory=list)  # created
    members: list[str] = field(default_factory=list)  # "account: user" added
    skipped: list[str] = field(default_factory=list)


def _organisation_for(actor: User, account: Account) -> Organisation:
    name = account.organization or account.name
    found = Organisation.objects.filter(slug=name).first()
    found = found or Organisation.objects.filter(name__iexact=name).first()
    if found is not None:
        return found
    return account_services.organisation_create(
        actor=actor,
        name=name,
        kind=OrganisationKind.STARTUP,
        description=f"Imported from Slurm account {account.name}",
    )


def _user_for(actor: User, slurm_user: str, domain: str) -> User:
    """The ailab user whose POSIX account is ``slurm_user``; else a new user
    ``<slurm_user>@<domain>`` given that POSIX account, with the uid and gid the Unix user
    has on this machine. ``ValidationError`` (field ``user``) when neither can be."""
    account = posix_account_by_username(slurm_user)
    if account is not None:
        return account.user
    try:
        entry = pwd.getpwnam(slurm_user)
    except KeyError:
        raise ValidationError(
            f"no Unix user {slurm_user!r} on this machine to take its uid from", field="user"
        ) from None
    email = f"{slurm_user}@{domain}"
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = account_services.user_create(email=email)
    elif (other := posix_account_of(user)) is not None:
        raise ValidationError(f"{email} already runs as Unix user {other.username!r}", field="user")
    posix_account_set(
        actor=actor, user=user, username=slurm_user, uid=entry.pw_uid, gid=entry.pw_gid
    )
    return user


@transaction.atomic
def slurm_import(
    *,
    actor: User,
    cluster: Cluster,
    default_gpu_hours: int = 1000,
    days: int = 365,
    user_domain: str = "",
) -> ImportReport:
    """Adopt Slurm accounts under the lab root as allocations (users -> members).

    An account's ``GrpTRESMins=gres/gpu`` becomes the budget (``default_gpu_hours`` when it
    has none), its Fairshare the weight, its organization the organisation (created as a
    startup if new); users become members: the ailab user whose POSIX account has that
    username, else a new ailab user ``<user>@<domain>`` with that POSIX account (uid and gid
    from this machine's ``pwd``). A Slurm user that cannot be mapped (no such Unix user
    here, a system account) is skipped with the reason. Accounts ailab already has are left
    alone, but their missing members are added. Running it twice adopts nothing new.
    """
    domain = user_domain or env_str("AILAB_SLURM_USER_DOMAIN", "slurm.invalid")
    report = ImportReport(cluster=cluster.name)
    existing = {a.account: a for a in Allocation.objects.filter(cluster=cluster)}
    today = timezone.now().date()  # as compute's allocation_state_for does
    skip_users = {service_user(), "root"}
    for name, account in sorted(sacctmgr_for(cluster).tree().items()):
        members = [u for u in sorted(account.users) if u not in skip_users]
        allocation = existing.get(name)
        if allocation is None:
            minutes = account.limits.gpu_minutes
            hours = default_gpu_hours if minutes is None else max(1, -(-minutes // 60))
            try:
                allocation = allocation_grant(
                    actor=actor,
                    organisation=_organisation_for(actor, account),
                    name=account.description or name,
                    account=name,
                    gpu_hours=hours,
                    starts_on=today,
                    ends_on=today + dt.timedelta(days=days),
                    weight=Decimal(account.limits.fairshare) / FAIRSHARE_SCALE,
                    cluster=cluster,
                    note=f"Imported from Slurm account {name} on {slurm_name(cluster)}",
                )
            except ValidationError as exc:
                report.skipped.append(f"{name}: {exc}")
                continue
            report.allocations.append(name)
        have = set(slurm_users_for(allocation.members.all()).values())
        for member in members:
            if member in have:
                continue
            try:
                with transaction.atomic():  # a member that fails leaves nothing half-made
                    user = _user_for(actor, member, domain)
                    allocation_member_set(actor=actor, allocation=allocation, user=user)
            except DomainError as exc:
                report.skipped.append(f"{name}: Slurm user {member}: {exc.reason}")
                continue
            report.members.append(f"{name}: {member}")
    return report


# Hooks ----------------------------------------------------------------------------------


def sync_allocation(allocation_id: int) -> None:
    """The hook: sync one allocation's account if its cluster runs on Slurm."""
    allocation = Allocation.objects.select_related("cluster").filter(pk=allocation_id).first()
    if allocation is None or allocation.cluster.backend != Backend.SLURM:
        return
    try:
        report = slurm_sync(cluster=allocation.cluster, only=allocation.account)
    except BackendError:
        # The hook runs after commit: log it; `ailab slurm check` shows the drift later.
        log.exception("Slurm sync of allocation %s failed", allocation_id)
        return
    for change in report.changes:
        log.info("Slurm sync: %s", change)


def register_hooks() -> None:
    """Sync an allocation's account whenever it changes (idempotent)."""
    if sync_allocation not in hooks.on_allocation_changed:
        hooks.on_allocation_changed.append(sync_allocation)
