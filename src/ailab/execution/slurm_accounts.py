"""Slurm's account tree through ``sacctmgr``: read it, diff it against what ailab wants,
and apply the difference. Django-free: ``ailab.compute.slurm_sync`` builds the wanted tree
from allocations and calls in here.

One ailab allocation is one Slurm account under the lab's root account; its members are
user associations; its budget is ``GrpTRESMins=gres/gpu=<minutes>``; its weight is the
account's ``Fairshare``; an allocation that may not run (expired, exhausted, not started)
gets ``GrpSubmitJobs=0`` and ``GrpJobs=0`` (Grp limits: they do not leak onto the users'
associations the way ``Max*`` limits do when set on an account).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from ailab.execution.base import BackendError
from ailab.execution.slurm_commands import SlurmCommands

FAIRSHARE_SCALE = 100  # weight 1.000 -> Fairshare=100 (Slurm wants an integer)
_GPU_MINUTES = re.compile(r"gres/gpu(?::[^=,]+)?=(\d+)")
_NAME = re.compile(r"^[a-z0-9_][a-z0-9_.-]{0,63}$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Limits:
    fairshare: int = 1
    gpu_minutes: int | None = None  # GrpTRESMins=gres/gpu; None: no limit
    blocked: bool = False  # GrpSubmitJobs=0 and GrpJobs=0

    def describe(self) -> str:
        minutes = "none" if self.gpu_minutes is None else str(self.gpu_minutes)
        return (
            f"Fairshare={self.fairshare} GrpTRESMins=gres/gpu={minutes} "
            f"{'blocked' if self.blocked else 'open'}"
        )


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    parent: str
    limits: Limits = Limits()
    users: frozenset[str] = frozenset()
    description: str = ""
    organization: str = ""


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between ailab and Slurm, and what sync does about it."""

    kind: str  # add_account | modify_account | add_users | remove_users | unmanaged
    account: str
    detail: str
    wanted: Account | None = None
    users: frozenset[str] = field(default_factory=frozenset)
    move: bool = False  # modify_account: the parent changes too

    def __str__(self) -> str:
        return f"{self.kind} {self.account}: {self.detail}"


def gpu_minutes(budget_gpu_seconds: int) -> int:
    """Whole GPU-minutes of a budget, rounded down (Slurm must never allow more than ailab)."""
    return max(0, budget_gpu_seconds // 60)


def fairshare(weight: float) -> int:
    return max(1, round(weight * FAIRSHARE_SCALE))


def diff(wanted: Mapping[str, Account], actual: Mapping[str, Account]) -> list[Change]:
    """What sync must do so Slurm matches ``wanted``; accounts ailab does not know are
    reported as ``unmanaged`` (sync leaves them; ``ailab slurm import`` adopts them)."""
    changes: list[Change] = []
    for name in sorted(wanted):
        want = wanted[name]
        have = actual.get(name)
        if have is None:
            changes.append(
                Change("add_account", name, f"{want.limits.describe()} under {want.parent}", want)
            )
            if want.users:
                changes.append(
                    Change("add_users", name, ", ".join(sorted(want.users)), users=want.users)
                )
            continue
        drift = []
        move = have.parent != want.parent
        if move:
            drift.append(f"parent {have.parent} -> {want.parent}")
        if have.limits != want.limits:
            drift.append(f"{have.limits.describe()} -> {want.limits.describe()}")
        if drift:
            changes.append(Change("modify_account", name, "; ".join(drift), want, move=move))
        missing = want.users - have.users
        extra = have.users - want.users
        if missing:
            changes.append(
                Change("add_users", name, ", ".join(sorted(missing)), users=frozenset(missing))
            )
        if extra:
            changes.append(
                Change("remove_users", name, ", ".join(sorted(extra)), users=frozenset(extra))
            )
    for name in sorted(set(actual) - set(wanted)):
        changes.append(
            Change("unmanaged", name, "in Slurm under the lab root, not an ailab allocation")
        )
    return changes


def check_name(name: str, what: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"{what} {name!r} is not a valid Slurm name")
    return name


class Sacctmgr:
    """The account tree of one Slurm cluster below one root account."""

    def __init__(self, commands: SlurmCommands, *, cluster: str, root: str) -> None:
        self.commands = commands
        self.cluster = check_name(cluster, "cluster")
        self.root = check_name(root, "root account")

    def _show(self, *args: str) -> list[list[str]]:
        done = self.commands.run(["sacctmgr", "-n", "-P", "show", *args])
        return [line.split("|") for line in done.stdout.splitlines() if line.strip()]

    def ensure_root(self) -> bool:
        """Create the lab's root account if missing; True if it was created."""
        rows = self._show("account", self.root, "format=account")
        if any(r[0] == self.root for r in rows):
            return False
        self._modify(
            "add",
            "account",
            self.root,
            f"cluster={self.cluster}",
            "description=ailab lab root",
            "organization=ailab",
        )
        return True

    def tree(self) -> dict[str, Account]:
        """Every account below the root (any depth), with its limits and users."""
        rows = self._show(
            "assoc",
            f"cluster={self.cluster}",
            "format=account,user,parentname,fairshare,grptresmins,grpsubmit,grpjobs",
        )
        info = {
            r[0]: (r[1], r[2])
            for r in self._show("account", "format=account,descr,org")
            if len(r) >= 3
        }
        parents: dict[str, str] = {}
        limits: dict[str, Limits] = {}
        users: dict[str, set[str]] = {}
        for row in rows:
            account, user, parent, share, tres, submit, jobs = (row + [""] * 7)[:7]
            if user:
                users.setdefault(account, set()).add(user)
                continue
            parents[account] = parent
            minutes = _GPU_MINUTES.search(tres)
            limits[account] = Limits(
                fairshare=int(share) if share.isdigit() else 1,
                gpu_minutes=int(minutes.group(1)) if minutes else None,
                blocked=submit == "0" and jobs == "0",
            )
        below: dict[str, Account] = {}
        for account, parent in parents.items():
            node, seen = parent, {account}
            while node and node != self.root and node not in seen:
                seen.add(node)
                node = parents.get(node, "")
            if node == self.root and account != self.root:
                description, organization = info.get(account, ("", ""))
                below[account] = Account(
                    name=account,
                    parent=parent,
                    limits=limits[account],
                    users=frozenset(users.get(account, ())),
                    description=description,
                    organization=organization,
                )
        return below

    def apply(self, changes: Iterable[Change]) -> int:
        """Apply the changes (``unmanaged`` ones are left alone); returns how many applied."""
        applied = 0
        for change in changes:
            if change.kind == "add_account" and change.wanted is not None:
                self.add_account(change.wanted)
            elif change.kind == "modify_account" and change.wanted is not None:
                self.set_account(change.wanted, move=change.move)
            elif change.kind == "add_users":
                self.add_users(change.account, change.users)
            elif change.kind == "remove_users":
                self.remove_users(change.account, change.users)
            else:
                continue
            applied += 1
        return applied

    def _limit_args(self, limits: Limits) -> list[str]:
        minutes = -1 if limits.gpu_minutes is None else limits.gpu_minutes
        blocked = "0" if limits.blocked else "-1"
        return [
            f"fairshare={limits.fairshare}",
            f"grptresmins=gres/gpu={minutes}",
            f"grpsubmitjobs={blocked}",
            f"grpjobs={blocked}",
        ]

    def _modify(self, *args: str) -> None:
        done = self.commands.run(["sacctmgr", "-i", *args], ok_codes=(0, 1))
        # sacctmgr exits 1 for "Nothing modified" / "Nothing new added": already so.
        output = (done.stdout + done.stderr).strip()
        if done.returncode != 0 and not output.lower().startswith("nothing"):
            raise BackendError(
                f"`{shlex.join(['sacctmgr', '-i', *args])}` failed with exit status "
                f"{done.returncode}: {output or 'no output'}"
            )

    def add_account(self, account: Account) -> None:
        name = check_name(account.name, "account")
        self._modify(
            "add",
            "account",
            name,
            f"cluster={self.cluster}",
            f"parent={check_name(account.parent, 'parent account')}",
            f"description={account.description or name}",
            f"organization={account.organization or 'ailab'}",
            *self._limit_args(account.limits),
        )

    def set_account(self, account: Account, *, move: bool = False) -> None:
        name = check_name(account.name, "account")
        where = ["modify", "account", "where", f"name={name}", f"cluster={self.cluster}", "set"]
        if move:  # sacctmgr moves an account only in a call of its own
            self._modify(*where, f"parent={check_name(account.parent, 'parent account')}")
        self._modify(*where, *self._limit_args(account.limits))

    def add_users(self, account: str, users: Iterable[str]) -> None:
        names = ",".join(check_name(u, "user") for u in sorted(users))
        if names:
            self._modify(
                "add", "user", names, f"account={check_name(account, 'account')}",
                f"cluster={self.cluster}",
            )  # fmt: skip

    def remove_users(self, account: str, users: Iterable[str]) -> None:
        names = ",".join(check_name(u, "user") for u in sorted(users))
        if names:
            self._modify(
                "remove", "user", "where", f"name={names}",
                f"account={check_name(account, 'account')}", f"cluster={self.cluster}",
            )  # fmt: skip


def with_users(account: Account, users: Iterable[str]) -> Account:
    return replace(account, users=frozenset(users))
