"""The Unix account benchmark jobs run as: in lab mode (root) a real other account, made with
useradd once; otherwise the current user (single-user mode)."""

from __future__ import annotations

import os
import pwd
import subprocess

NAME = "ailab-bench"


def bench_account() -> tuple[str, int, int]:
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.getuid())
        return me.pw_name, me.pw_uid, me.pw_gid
    try:
        entry = pwd.getpwnam(NAME)
    except KeyError:
        subprocess.run(["useradd", "-U", "-M", "-d", "/nonexistent", "-s", "/bin/sh", NAME],
                       check=True, capture_output=True)  # fmt: skip
        entry = pwd.getpwnam(NAME)
    return entry.pw_name, entry.pw_uid, entry.pw_gid
