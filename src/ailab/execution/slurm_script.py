"""What ailab hands to ``sbatch``: the batch script, the text in its options, and the Unix
user the job is submitted as.

- Nothing a user typed reaches a ``#SBATCH`` line: the script has no ``#SBATCH`` lines at
  all (every option is an ``sbatch`` argument), its only comment names the job by ailab's
  own id, and the first command comes right after it, so ``sbatch`` stops looking for
  directives there. Environment values and the command line are shell-quoted.
- The job name loses control and format characters (a newline becomes ``_``); a working
  directory or output path holding one is refused, never rewritten: a changed path would be
  somebody else's.
- ``submitter_for`` says whose job it is: the job's own Unix user by default
  (``runuser -u USER -- sbatch`` when ailab runs as root, ``sbatch --uid`` when it runs as
  another user, such as Slurm's ``SlurmUser``). A job without a user is refused; the one
  service user for every job is only the explicit ``service`` mode.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shlex
import stat
import unicodedata
from dataclasses import dataclass

from ailab.execution.base import BackendError, JobSpec

SUBMIT_AS_USER = "user"  # each job as its owner's Unix user (the default)
SUBMIT_AS_SERVICE = "service"  # every job as the Unix user ailab runs as (explicit only)
SUBMIT_MODES = (SUBMIT_AS_USER, SUBMIT_AS_SERVICE)

NAME_MAX = 200
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_USERNAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def is_control(ch: str) -> bool:
    # Cc: newline, NUL, escape...; Cf: right-to-left override, zero-width joiners; Zl/Zp.
    return unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")


def clean_name(text: str) -> str:
    """A job name safe anywhere Slurm prints it: control and format characters become
    ``_``, and it is cut to ``NAME_MAX`` characters."""
    return "".join("_" if is_control(ch) else ch for ch in text)[:NAME_MAX]


def checked_text(value: str, what: str) -> str:
    """``value`` unchanged, or ``BackendError`` naming ``what`` if it holds a control or
    format character."""
    for i, ch in enumerate(value):
        if is_control(ch):
            raise BackendError(
                f"sbatch: {what} must not contain control or format characters "
                f"(U+{ord(ch):04X} at {i})"
            )
    return value


def checked_id(value: str, what: str) -> str:
    if not _SAFE_ID.match(value):
        raise BackendError(f"sbatch: {what} {value!r} is not a safe name (A-Z a-z 0-9 _ . -)")
    return value


def batch_script(spec: JobSpec) -> str:
    """The batch script: the job's environment, then its command (exec'd, so signals reach
    it). No ``#SBATCH`` lines, and nothing of the user's before the first command."""
    lines = ["#!/bin/bash", f"# ailab job {checked_id(spec.job_id, 'job id')}"]
    lines.append('export PATH="${PATH:-/usr/local/bin:/usr/bin:/bin}"')
    for key, value in sorted(spec.env.items()):
        if not _ENV_NAME.match(key):
            raise BackendError(f"sbatch: environment variable name {key!r} is not valid")
        lines.append(f"export {key}={shlex.quote(value)}")
    if not spec.command:
        raise BackendError("sbatch: the job has no command")
    lines.append("exec " + shlex.join(spec.command))
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class Submitter:
    """The Unix user a job is submitted as, and how ailab becomes that user."""

    username: str
    uid: int
    gid: int
    home: str
    how: str  # "self" (ailab is that user) | "runuser" (ailab is root) | "uid" (sbatch --uid)

    def wrap(self, args: list[str]) -> list[str]:
        if self.how == "runuser":
            return ["runuser", "-u", self.username, "--", *args]
        if self.how == "uid":
            return [*args, f"--uid={self.uid}", f"--gid={self.gid}"]
        return args


def submitter_for(spec: JobSpec, mode: str) -> Submitter | None:
    """Whom ``spec`` is submitted as: None in service mode (whoever runs ailab), else the
    job's own Unix user, checked against this machine's account database."""
    if mode == SUBMIT_AS_SERVICE:
        return None
    name = spec.user
    if not name:
        raise BackendError(
            f"sbatch: job {spec.job_id} has no user: ailab submits each job as its owner's "
            "Unix account (lab staff assign one: ailab users posix set EMAIL USERNAME); "
            f"AILAB_SLURM_SUBMIT_AS={SUBMIT_AS_SERVICE} submits every job as ailab's own user"
        )
    if not _USERNAME.match(name):
        raise BackendError(f"sbatch: user {name!r} is not a valid Unix username")
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise BackendError(
            f"sbatch: user {name!r} has no Unix account on this machine (the submit host "
            "must know every user, as Slurm's nodes do)"
        ) from None
    if entry.pw_uid == 0:
        raise BackendError(f"sbatch: user {name!r} is root; ailab never submits a job as root")
    for what, assigned, actual in (
        ("uid", spec.uid, entry.pw_uid),
        ("gid", spec.gid, entry.pw_gid),
    ):
        if assigned is not None and assigned != actual:
            raise BackendError(
                f"sbatch: user {name!r} has {what} {actual} on this machine, but the lab "
                f"assigned {what} {assigned}: the job would run as someone else"
            )
    me = os.geteuid()
    how = "self" if me == entry.pw_uid else "runuser" if me == 0 else "uid"
    return Submitter(name, entry.pw_uid, entry.pw_gid, entry.pw_dir, how)


def user_dir(log_dir: str, submitter: Submitter) -> str:
    """``<log_dir>/<user>``: the user's own directory (mode 0700) for jobs without their own
    working directory or output paths; made by root. Never a link, never someone else's."""
    os.makedirs(log_dir, mode=0o711, exist_ok=True)
    # Reached by every job user, listed by none; explicit, since a lab-mode server runs with
    # umask 077 and makedirs' mode is masked by it.
    os.chmod(log_dir, 0o711)
    path = os.path.join(log_dir, submitter.username)
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise BackendError(f"sbatch: {path} is not a directory (a link?); refusing to use it")
    if info.st_uid not in (0, submitter.uid):
        raise BackendError(f"sbatch: {path} belongs to uid {info.st_uid}, not {submitter.uid}")
    if info.st_uid != submitter.uid or info.st_gid != submitter.gid:
        os.chown(path, submitter.uid, submitter.gid, follow_symlinks=False)
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(path, 0o700)  # a directory (lstat above) in root's own log directory
    return path
