"""POSIX identities: the Unix account each user's jobs run as (services and selectors).

Lab staff assign them (page, API, ``ailab users posix set EMAIL USERNAME``), or a configured
provisioner does on a user's first submission (``AILAB_POSIX_PROVISIONER=sequential``: the
username ``<AILAB_POSIX_PREFIX><user id>``, default prefix ``u``, and the next free uid from
``AILAB_POSIX_UID_MIN``, default 20000). A username is never derived from an email: two
founders called ``founder@…`` of two startups must never share a Unix account.
"""

from __future__ import annotations

import os
import pwd
import re

from django.db import IntegrityError, transaction
from django.db.models import Max

from ailab.accounts import roles
from ailab.accounts.models import POSIX_USERNAME_RE, PosixAccount, User
from ailab.common.errors import Conflict, PermissionDenied, ValidationError

UID_MIN_DEFAULT = 20000
UID_MAX = 2**31 - 2
_USERNAME = re.compile(POSIX_USERNAME_RE)
NO_ACCOUNT = (
    "you have no Unix account at this lab yet: ask lab staff to assign one "
    "(ailab users posix set EMAIL USERNAME)"
)


def _uid_min() -> int:
    return int(os.environ.get("AILAB_POSIX_UID_MIN", "") or UID_MIN_DEFAULT)


def _system_uid(username: str) -> tuple[int, int] | None:
    try:
        entry = pwd.getpwnam(username)
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def _next_uid() -> int:
    highest = PosixAccount.objects.aggregate(m=Max("uid"))["m"]
    uid = max(_uid_min(), (highest or 0) + 1)
    while True:  # skip uids this machine already uses for someone else
        try:
            pwd.getpwuid(uid)
        except KeyError:
            return uid
        uid += 1


def _check_username(username: str) -> str:
    name = (username or "").strip()
    if not _USERNAME.match(name):
        raise ValidationError(
            "a Unix username: lower-case letters, digits, '_' or '-', at most 32 characters, "
            "starting with a letter or '_'",
            field="username",
        )
    if name in ("root", "nobody") or name.startswith("ailab-svc"):
        raise ValidationError(f"{name!r} is reserved", field="username")
    return name


def _check_id(value: object, field: str, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError("must be a whole number", field=field)
    if not low <= value <= UID_MAX:
        raise ValidationError(f"must be between {low} and {UID_MAX}", field=field)
    return value


@transaction.atomic
def posix_account_set(
    *,
    actor: User | None,
    user: User,
    username: str,
    uid: int | None = None,
    gid: int | None = None,
) -> PosixAccount:
    """Assign (or change) ``user``'s Unix account; lab staff only (``actor=None``: the lab's
    operator at the server's console, ``ailab users posix set``).

    Without ``uid``, an existing account of that name on this machine gives its uid and gid;
    otherwise the next free uid from ``AILAB_POSIX_UID_MIN`` is taken. A Unix account of that
    name on this machine with another uid is refused (it would run jobs as someone else).
    """
    if actor is not None and not roles.is_lab_staff(actor):
        raise PermissionDenied("only lab staff assign Unix accounts")
    name = _check_username(username)
    system = _system_uid(name)
    if gid is not None:
        gid = _check_id(gid, "gid", low=100)
    if uid is None:
        uid, sys_gid = system if system else (_next_uid(), None)
        if uid < 1000:
            raise ValidationError(f"{name!r} is a system account (uid {uid})", field="username")
    else:
        uid = _check_id(uid, "uid", low=1000)
        if system and system[0] != uid:
            raise ValidationError(
                f"this machine's {name!r} has uid {system[0]}, not {uid}", field="uid"
            )
        sys_gid = system[1] if system else None
    if gid is None:
        gid = sys_gid if sys_gid is not None else uid
    clash = PosixAccount.objects.exclude(user=user)
    if clash.filter(username=name).exists():
        raise Conflict(f"the Unix account {name!r} belongs to another user", field="username")
    if clash.filter(uid=uid).exists():
        raise Conflict(f"uid {uid} belongs to another user", field="uid")
    try:
        with transaction.atomic():
            account, _ = PosixAccount.objects.update_or_create(
                user=user,
                defaults={"username": name, "uid": uid, "gid": gid, "assigned_by": actor},
            )
    except IntegrityError as exc:  # a concurrent assignment took the name or uid
        raise Conflict("that username or uid was just taken", field="username") from exc
    return account


def posix_account_of(user: User) -> PosixAccount | None:
    """The user's Unix account, or None."""
    try:
        return PosixAccount.objects.get(user=user)
    except PosixAccount.DoesNotExist:
        return None


def posix_account_require(user: User) -> PosixAccount:
    """The user's Unix account; made by the configured provisioner if there is one, otherwise
    a ValidationError (field ``user``) that says whom to ask."""
    account = posix_account_of(user)
    if account is not None:
        return account
    if os.environ.get("AILAB_POSIX_PROVISIONER", "") == "sequential":
        return _provision(user)
    raise ValidationError(NO_ACCOUNT, field="user")


@transaction.atomic
def _provision(user: User) -> PosixAccount:
    prefix = os.environ.get("AILAB_POSIX_PREFIX", "") or "u"
    name = _check_username(f"{prefix}{user.pk}")
    system = _system_uid(name)
    uid, gid = system if system else (_next_uid(), None)
    return PosixAccount.objects.create(
        user=user, username=name, uid=uid, gid=gid if gid is not None else uid
    )


def posix_account_by_username(username: str) -> PosixAccount | None:
    """Whose Unix account this is (for Slurm imports), or None."""
    return PosixAccount.objects.select_related("user").filter(username=username).first()
