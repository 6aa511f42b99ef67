"""The backend protocol: how ailab hands jobs to something that runs them (DESIGN.md rule 8).

A backend is Django-free and knows nothing of allocations or users: it gets a
``JobSpec`` and answers with states. Two backends implement it: ``local``
(process groups on this machine) and ``slurm`` (a real Slurm cluster). One
contract test suite (``tests/execution/contract.py``) runs against both.

Contract, for every backend:

- ``submit(spec)`` returns at once with the backend's id for the job (it does not
  wait for the job to start). Submitting the same ``spec.job_id`` twice returns
  the same id and starts nothing new (idempotent, so a retried call is safe).
- ``poll(ids)`` returns the current ``Status`` of each id it knows; an id it has
  never seen is reported ``LOST`` with a reason, never silently dropped.
- ``cancel(id)`` is idempotent: cancelling a finished or already cancelled job is
  not an error. It returns at once; the job reaches ``CANCELLED`` by a later poll.
- ``preempt(id)`` exists only with ``Capability.PREEMPT``: stop the job so it can be
  requeued; a later poll reports ``PREEMPTED``.
- Errors from the machinery (a command that fails, a daemon that does not answer)
  raise ``BackendError`` naming what failed; a backend never invents a state.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

# One Capability enum for the planner and the backends: the pure core's (PREEMPT, GPU_PINNING,
# MULTI_NODE, SCHEDULES, ACCOUNTING), re-exported here for the backends.
from ailab.scheduling.model import Capability as Capability


class State(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    PREEMPTED = "preempted"
    LOST = "lost"  # the backend has no trace of it any more (a crash, a reboot)

    @property
    def finished(self) -> bool:
        return self not in (State.PENDING, State.RUNNING)


class BackendError(RuntimeError):
    """The machinery failed: the message names the command or call and what it said."""


@dataclass(frozen=True, slots=True)
class JobSpec:
    job_id: str  # ailab's id for the job; the backend's own id comes back from submit
    name: str
    command: tuple[str, ...]
    gpus: int
    time_limit_s: int
    workdir: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    cpus: int = 1
    memory_mb: int | None = None
    account: str = ""  # the allocation's account (a Slurm account)
    user: str = ""  # the Unix account the job runs as (its owner's POSIX identity)
    uid: int | None = None  # that account's uid and primary gid, as the lab assigned them
    gid: int | None = None
    node: str | None = None  # chosen by ailab's planner (backends with GPU_PINNING)
    gpu_indices: tuple[int, ...] = ()  # likewise
    stdout_path: str | None = None
    stderr_path: str | None = None


@dataclass(frozen=True, slots=True)
class Status:
    external_id: str
    state: State
    reason: str = ""  # why it waits, or why it ended (e.g. "AssocGrpGRESMinutes", "exit 3")
    started_at: dt.datetime | None = None  # aware UTC
    ended_at: dt.datetime | None = None  # aware UTC
    exit_code: int | None = None
    gpus: int | None = None  # GPUs actually held, where the backend reports it
    node: str | None = None


@dataclass(frozen=True, slots=True)
class NodeInfo:
    name: str
    gpus: int
    gpu_model: str = ""
    gpu_memory_mb: int | None = None
    cpus: int | None = None
    memory_mb: int | None = None


@runtime_checkable
class Backend(Protocol):
    name: str
    capabilities: frozenset[Capability]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Backend:
        """The backend configured from the environment (``AILAB_*`` variables)."""
        ...

    @classmethod
    def isolated_from_env(cls, environ: Mapping[str, str] | None = None) -> bool:
        """Whether, configured from this environment, jobs run as their owners' Unix
        accounts (and so are isolated from each other and from the lab's files)."""
        ...

    def nodes(self) -> list[NodeInfo]:
        """The nodes and GPUs this backend can run jobs on."""
        ...

    def submit(self, spec: JobSpec) -> str:
        """Start (or queue) the job; returns at once with the backend's id. Idempotent."""
        ...

    def poll(self, external_ids: Sequence[str]) -> dict[str, Status]:
        """The current status of each id (unknown ids come back LOST)."""
        ...

    def cancel(self, external_id: str) -> None:
        """Stop the job; idempotent, returns at once."""
        ...

    def preempt(self, external_id: str) -> None:
        """Stop the job so it can be requeued (only with Capability.PREEMPT)."""
        ...


@runtime_checkable
class LogReader(Protocol):
    """A backend that can read a job's log back (local: its files; Slurm: not from here)."""

    def read_log(
        self, external_id: str, stream: str = "stdout", offset: int = 0, limit: int = 65536
    ) -> tuple[bytes, int]:
        """Bytes of a job's log from ``offset``; returns them and the offset to go on from."""
        ...
