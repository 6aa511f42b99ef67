"""Running Slurm's commands: every call has a timeout, and every failure says what failed.

A failing command raises ``BackendError`` with the command line, its exit status and its
stderr; a command that does not answer within its timeout raises too. Nothing here guesses
a state from a failure (the backend contract).

The commands get a clean environment (``PATH``, locale, ``TZ``, ``SLURM_CONF``), never the
server's: ``sbatch`` run as a job's user is that user's process, and its environment is
theirs to read in ``/proc``. They run in ``/``, a directory every user may enter.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ailab.execution.base import BackendError

DEFAULT_TIMEOUT_S = 30.0
# What Slurm's commands need of the environment; nothing else of the server's goes along.
PASSED_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "SLURM_CONF")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NOTHING_FOUND = 9003  # slurmdbd: "Nothing found with query"


@dataclass(frozen=True, slots=True)
class Completed:
    returncode: int
    stdout: str
    stderr: str


# (argv, stdin, timeout_s, env) -> Completed; tests replace it with a fake.
Runner = Callable[[Sequence[str], str | None, float, dict[str, str] | None], Completed]


def subprocess_runner(
    argv: Sequence[str], stdin: str | None, timeout_s: float, env: dict[str, str] | None
) -> Completed:
    try:
        proc = subprocess.run(
            list(argv),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=env,
            cwd="/",
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BackendError(
            f"`{shlex.join(argv)}` did not answer within {timeout_s:g}s "
            "(is slurmctld/slurmdbd up? `scripts/slurm-dev-cluster.sh status`)"
        ) from exc
    except FileNotFoundError as exc:
        raise BackendError(
            f"`{shlex.join(argv)}` failed: {argv[0]} is not installed here "
            "(start the development cluster: `scripts/slurm-dev-cluster.sh start`)"
        ) from exc
    return Completed(proc.returncode, proc.stdout, proc.stderr)


class SlurmCommands:
    """Runs ``sbatch``, ``squeue``, ``sacct``, ``scancel``, ``sacctmgr``, ``sinfo``."""

    def __init__(
        self,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        runner: Runner | None = None,
        slurm_conf: str | None = None,
    ) -> None:
        self.timeout_s = timeout_s
        self.runner: Runner = runner or subprocess_runner
        self.slurm_conf = slurm_conf

    def _env(self) -> dict[str, str]:
        env = {k: os.environ[k] for k in PASSED_ENV if os.environ.get(k)}
        env.setdefault("PATH", DEFAULT_PATH)
        if self.slurm_conf:
            env["SLURM_CONF"] = self.slurm_conf
        return env

    def run(
        self,
        argv: Sequence[str],
        *,
        stdin: str | None = None,
        ok_codes: Sequence[int] = (0,),
    ) -> Completed:
        done = self.runner(argv, stdin, self.timeout_s, self._env())
        if done.returncode not in ok_codes:
            detail = (done.stderr or done.stdout).strip() or "no output"
            raise BackendError(
                f"`{shlex.join(argv)}` failed with exit status {done.returncode}: {detail}"
            )
        return done

    def json(self, argv: Sequence[str]) -> dict[str, Any]:
        done = self.run(argv)
        try:
            data = json.loads(done.stdout)
        except json.JSONDecodeError as exc:
            raise BackendError(
                f"`{shlex.join(argv)}` did not print JSON ({exc}): {done.stdout[:200]!r}"
            ) from exc
        if not isinstance(data, dict):
            raise BackendError(f"`{shlex.join(argv)}` printed JSON that is not an object")
        errors = [e for e in data.get("errors") or [] if isinstance(e, dict)]
        # sacct reports "Nothing found" (9003) for unknown job ids as an error; that is an answer.
        real = [e for e in errors if e.get("error_number") != NOTHING_FOUND]
        if real:
            raise BackendError(f"`{shlex.join(argv)}` reported errors: {real}")
        return data
