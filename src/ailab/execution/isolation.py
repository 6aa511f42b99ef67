"""How a local job is kept apart from the lab and from other tenants (docs/threat-model.md).

Two modes, chosen by ``AILAB_LOCAL_ISOLATION`` (default: ``users`` when ailab runs as root,
``none`` otherwise):

- ``users`` (lab mode, a lab's DGX box): the runner stays root; the job's processes run as
  the job owner's Unix account, in a working directory of their own; control files, logs,
  the database and the secret key are out of the job's reach.
- ``none`` (single-user mode, a laptop): jobs run as the server's own user. They get the
  same clean environment and process tracking, but nothing keeps one job from another.

In both, every process of a job is tracked (the runner is a child subreaper, so even a
``setsid`` child that double-forks stays its descendant) and killed when the job ends;
CPUs are enforced by affinity (reapplied to every process of the job, since a process may
widen its own) and memory by the runner summing the tree's resident memory (the job is
killed over its limit, as Slurm's ``OverMemoryKill`` does where there are no cgroups).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import grp
import os
import pwd
import stat
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil

USERS = "users"
NONE = "none"
MIN_UID = 1000
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Variables the job may not set itself: they say who and where it is.
RESERVED_ENV = frozenset(
    {"HOME", "USER", "LOGNAME", "TMPDIR", "CUDA_VISIBLE_DEVICES", "SHELL", "PWD"}
)
_PR_SET_CHILD_SUBREAPER = 36


class IsolationError(RuntimeError):
    """The job cannot be run as asked (no such account, a system account, a bad directory)."""


def mode_from_env(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    value = (env.get("AILAB_LOCAL_ISOLATION", "") or "").strip().lower()
    if value in (USERS, NONE):
        return value
    if value:
        raise ValueError(f"AILAB_LOCAL_ISOLATION must be 'users' or 'none', not {value!r}")
    return USERS if os.geteuid() == 0 else NONE


def whoami() -> str:
    """This process's Unix user name."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


# The data directory ----------------------------------------------------------------------


def secure_data_dir(data_dir: Path, work_root: Path) -> None:
    """Make the data directory unreadable to job users (lab mode).

    The data directory may be traversed (mode 0711) so that job working directories under it
    can be reached, but not listed; everything directly in it except the work root loses
    every permission for group and others (the database, its journals, the secret key,
    uploads, job control files). Files created later by this process are private too.
    """
    os.umask(0o077)
    data_dir.mkdir(parents=True, exist_ok=True)
    work_root.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o711)
    os.chmod(work_root, 0o711)
    for entry in data_dir.iterdir():
        if entry == work_root:
            continue
        with contextlib.suppress(FileNotFoundError):
            st = entry.lstat()
            if stat.S_ISLNK(st.st_mode):
                continue
            os.chmod(entry, stat.S_IMODE(st.st_mode) & 0o700)


# Unix accounts ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str


def resolve_account(
    name: str, uid: int | None, gid: int | None, *, create: bool, lock_dir: Path
) -> Account:
    """The Unix account a job runs as: it must exist here with the uid the lab assigned,
    and not be a system account. With ``create`` a missing one is made with ``useradd``."""
    if not name or uid is None:
        raise IsolationError("the job has no Unix account (lab mode runs jobs as their owner)")
    if uid < MIN_UID:
        raise IsolationError(f"refusing to run a job as system account {name!r} (uid {uid})")
    entry = _passwd(name)
    if entry is None and create:
        _create_account(name, uid, gid if gid is not None else uid, lock_dir)
        entry = _passwd(name)
    if entry is None:
        raise IsolationError(
            f"no Unix account {name!r} on this machine (create it, or set "
            "AILAB_LOCAL_CREATE_USERS=1)"
        )
    if entry.pw_uid != uid:
        raise IsolationError(
            f"the Unix account {name!r} has uid {entry.pw_uid} here, the lab assigned {uid}"
        )
    groups = tuple(sorted(set(os.getgrouplist(name, entry.pw_gid))))
    return Account(name, entry.pw_uid, entry.pw_gid, groups, entry.pw_dir)


def _passwd(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def _create_account(name: str, uid: int, gid: int, lock_dir: Path) -> None:
    """``useradd`` under a lock, so two jobs of a new user starting at once make it once."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / ".accounts.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _passwd(name) is not None:
            return
        try:
            grp.getgrgid(gid)
            group_args = ["-g", str(gid)]
        except KeyError:
            _run(["groupadd", "-g", str(gid), name])
            group_args = ["-g", str(gid)]
        _run(["useradd", "-u", str(uid), *group_args, "-M", "-d", "/nonexistent", "-s",
              "/bin/sh", name])  # fmt: skip


def _run(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        raise IsolationError(f"{args[0]} failed: {done.stderr.strip() or done.returncode}")


# The job's directories and environment ---------------------------------------------------


def make_private_dir(path: Path, account: Account | None) -> None:
    """Create ``path`` (mode 0700) owned by the job's account; an existing path must be a
    real directory (a symlink planted there is refused)."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        st = path.lstat()
        if not stat.S_ISDIR(st.st_mode):
            raise IsolationError(f"{path} exists and is not a directory") from None
    if account is not None:
        os.chown(path, account.uid, account.gid, follow_symlinks=False)
    os.chmod(path, 0o700, follow_symlinks=False)


def clean_environment(
    job_env: Mapping[str, str],
    *,
    user: str,
    home: str,
    tmpdir: str,
    gpu_indices: Iterable[int],
    extra: Mapping[str, str],
) -> dict[str, str]:
    """Only the job's own variables, who and where it is, its GPUs and ailab's job variables:
    nothing of the server's environment."""
    env = {"PATH": DEFAULT_PATH, "LANG": "C.UTF-8"}
    env.update({k: v for k, v in job_env.items() if k not in RESERVED_ENV})
    env.update(
        HOME=home,
        USER=user,
        LOGNAME=user,
        TMPDIR=tmpdir,
        CUDA_VISIBLE_DEVICES=",".join(str(i) for i in gpu_indices),
    )
    env.update(extra)
    return env


def open_log(path: Path) -> int:
    """Open a log for appending without following a symlink; private to the server."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)


# CPUs ------------------------------------------------------------------------------------


def pick_cpus(n: int, lock_dir: Path) -> frozenset[int]:
    """``n`` of this process's CPUs, rotating between jobs so they spread over the machine."""
    allowed = sorted(os.sched_getaffinity(0))
    if n >= len(allowed):
        return frozenset(allowed)
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / ".cpus", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        text = fh.read().strip()
        start = int(text) if text.isdigit() else 0
        fh.seek(0)
        fh.truncate()
        fh.write(str((start + n) % len(allowed)))
    return frozenset(allowed[(start + k) % len(allowed)] for k in range(n))


# The process tree ------------------------------------------------------------------------


def become_subreaper() -> bool:
    """Orphaned descendants reparent to this process instead of init (Linux 3.4+)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.Error:
        return []


@dataclass(frozen=True, slots=True)
class TreeSample:
    pids: tuple[tuple[int, float], ...]  # (pid, create time) of every live process
    rss_mb: int


def sample_tree(procs: Iterable[psutil.Process], cpus: frozenset[int] | None) -> TreeSample:
    """Resident memory of the job's processes, summed; affinity narrowed back where a
    process widened it."""
    pids: list[tuple[int, float]] = []
    rss = 0
    for proc in procs:
        try:
            with proc.oneshot():
                if proc.status() == psutil.STATUS_ZOMBIE:
                    continue
                rss += proc.memory_info().rss
                pids.append((proc.pid, proc.create_time()))
            if cpus is not None and not set(proc.cpu_affinity() or ()) <= cpus:
                proc.cpu_affinity(sorted(cpus))
        except psutil.Error:
            continue
    return TreeSample(tuple(pids), rss // (1024 * 1024))


def reap_orphans(keep: int) -> None:
    """Collect exited processes that were reparented to us (not ``keep``, our own child,
    whose status its Popen object reads)."""
    for proc in psutil.Process().children():
        if proc.pid == keep:
            continue
        with contextlib.suppress(ChildProcessError, OSError, psutil.Error):
            if proc.status() == psutil.STATUS_ZOMBIE:
                os.waitpid(proc.pid, os.WNOHANG)


def kill_tree(root_pid: int, *, rounds: int = 200) -> int:
    """SIGKILL every descendant of ``root_pid`` and reap them until none is left (a process
    that forks while being killed is caught in the next round). Returns how many remain."""
    left: list[psutil.Process] = []
    for _ in range(rounds):
        left = [p for p in descendants(root_pid) if _live(p)]
        if not left:
            break
        for proc in left:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        if root_pid == os.getpid():
            _reap_all()
        psutil.wait_procs(left, timeout=0.05)
    if root_pid == os.getpid():
        _reap_all()
    return len([p for p in descendants(root_pid) if _live(p)])


def kill_recorded(pids: Iterable[tuple[int, float]]) -> None:
    """Kill processes recorded earlier (each checked by its start time, so a recycled pid is
    left alone), and their descendants."""
    for pid, created in pids:
        try:
            proc = psutil.Process(pid)
            if abs(proc.create_time() - created) > 0.05:
                continue
            for child in proc.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    child.kill()
            proc.kill()
        except psutil.Error:
            continue


def _live(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _reap_all() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
