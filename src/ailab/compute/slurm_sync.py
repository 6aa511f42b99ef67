"""Allocations <-> Slurm accounts: sync, check (drift) and import, like ColdFront's sacctmgr
integration, driven from ailab's allocations.

Per Slurm cluster (a ``Cluster`` with ``backend=slurm``; its Slurm name is
``AILAB_SLURM_CLUSTER`` or else the cluster's own name):

- each allocation is an account under the lab root account (``AILAB_SLURM_ROOT_ACCOUNT``,
  default ``ailab``), named by ``Allocation.account``;
- its members are user associations: a member's Slurm user is the local part of their email
  (``alice@example.org`` -> ``alice``), which must be a Unix user on the cluster to run jobs;
  the service user that submits for ailab (``AILAB_SLURM_SERVICE_USER``, default the Unix
  user running ailab; empty for none) is associated with every account too;
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
import re
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from ailab.accounts import services as account_services
from ailab.accounts.models import Organisation, OrganisationKind, User
from ailab.common.errors import ValidationError
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

log = logging.getLogger(__name__)
_UNSAFE = re.compile(r"[^a-z0-9_.-]")


@dataclass
class SyncReport:
    cluster: str
    changes: list[Change] = field(default_factory=list)  # applied (sync) or found (check)
    unmanaged: list[Change] = field(default_factory=list)

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
    default = getpass.getuser()
    return env_str("AILAB_SLURM_SERVICE_USER", default).strip()


def slurm_user_for(user: User) -> str:
    """A member's Slurm (Unix) user name: the local part of their email, lowercased."""
    local = user.email.split("@", 1)[0].lower()
    return _UNSAFE.sub("_", local)[:64]


def sacctmgr_for(cluster: Cluster) -> Sacctmgr:
    commands = SlurmCommands(timeout_s=float(env_str("AILAB_SLURM_TIMEOUT", "30")))
    return Sacctmgr(commands, cluster=slurm_name(cluster), root=root_account())


def wanted_account(allocation: Allocation, *, today: dt.date | None = None) -> Account:
    users = {slurm_user_for(u) for u in allocation.members.all()}
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


def wanted_tree(cluster: Cluster) -> dict[str, Account]:
    allocations = (
        Allocation.objects.filter(cluster=cluster)
        .select_related("organisation")
        .prefetch_related("members")
    )
    return {a.account: wanted_account(a) for a in allocations}


def _split(changes: list[Change], cluster: Cluster) -> SyncReport:
    report = SyncReport(cluster=cluster.name)
    for change in changes:
        (report.unmanaged if change.kind == "unmanaged" else report.changes).append(change)
    return report


def slurm_check(*, cluster: Cluster) -> SyncReport:
    """The drift between ailab's allocations and Slurm's accounts; changes nothing."""
    tool = sacctmgr_for(cluster)
    return _split(diff(wanted_tree(cluster), tool.tree()), cluster)


def slurm_sync(*, cluster: Cluster, only: str | None = None) -> SyncReport:
    """Make Slurm's accounts match ailab's allocations (one account with ``only``).

    Idempotent: a second run finds nothing to change. Accounts under the root that ailab
    does not know are reported, never removed.
    """
    tool = sacctmgr_for(cluster)
    tool.ensure_root()
    wanted = wanted_tree(cluster)
    actual = tool.tree()
    if only is not None:
        wanted = {k: v for k, v in wanted.items() if k == only}
        actual = {k: v for k, v in actual.items() if k == only}
    report = _split(diff(wanted, actual), cluster)
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


def _user_for(slurm_user: str, domain: str) -> User:
    found = User.objects.filter(email__istartswith=f"{slurm_user}@").first()
    if found is not None:
        return found
    return account_services.user_create(email=f"{slurm_user}@{domain}")


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
    startup if new); users become members, created as ailab users ``<user>@<domain>`` when
    no user has that email local part. Accounts ailab already has are left alone, but their
    missing members are added. Running it twice adopts nothing new.
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
        have = {slurm_user_for(u) for u in allocation.members.all()}
        for member in members:
            if member not in have:
                allocation_member_set(
                    actor=actor, allocation=allocation, user=_user_for(member, domain)
                )
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
