"""The data the planner reads and writes: jobs, nodes, tenants, cluster state, decisions.

Everything here is a frozen dataclass with slots: a snapshot that a caller (the live scheduler
loop, the simulator, a test) builds, hands to :func:`ailab.scheduling.planner.plan`, and never
mutates. Identifiers are strings; times are ``float`` seconds on the caller's clock (the live
service uses seconds since the epoch, the simulator its virtual clock); usage is GPU-seconds.

The public shape is stable: fields are only ever added, and only with defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType


class Capability(StrEnum):
    """What the execution backend can do; the planner never asks for more.

    ``PREEMPT``: a running job can be stopped (checkpointed) and started again later.
    ``GPU_PINNING``: the backend honours the GPU indices of a placement. Without it the
    indices in a :class:`Start` are advisory (the backend picks its own GPUs on the node).
    ``MULTI_NODE``: the backend can run one job across several nodes. Without it the planner
    never starts a job larger than one node: such a job waits with
    :attr:`WaitReason.NEEDS_MULTI_NODE`.
    ``SCHEDULES``: the backend schedules by itself (Slurm); the planner stands aside.
    ``ACCOUNTING``: the backend reports each job's GPU-seconds itself (Slurm's accounting).
    The planner reads only ``PREEMPT`` and ``MULTI_NODE``; the others are declared here so that
    there is one ``Capability`` enum for the planner and the backends.
    """

    PREEMPT = "preempt"
    GPU_PINNING = "gpu_pinning"
    MULTI_NODE = "multi_node"
    SCHEDULES = "schedules"
    ACCOUNTING = "accounting"


ALL_CAPABILITIES: frozenset[Capability] = frozenset(Capability)


class Mode(StrEnum):
    """How tenants share nodes.

    ``PARTITIONED``: a tenant's jobs run only on the nodes it owns (``Node.tenant``), as in
    the Helios simulator. ``SHARED``: one pool; each tenant's quota is a guarantee and idle
    GPUs may be lent to other tenants (policies that know about quotas reclaim them).
    """

    PARTITIONED = "partitioned"
    SHARED = "shared"


@dataclass(frozen=True, slots=True)
class Job:
    """A request for ``gpus`` GPUs, submitted at ``submit_time``.

    ``duration`` is the true run time: known only when replaying a trace, read only by the
    oracle policies (``sjf``, ``srtf``) and by the simulator to know when the job ends.
    ``time_limit`` is what the user declared (the job is killed past it); ``estimate`` is a
    prediction of the run time (see :mod:`ailab.scheduling.estimate`). Policies that need a
    run time use ``estimate``, else ``time_limit``, else a policy default.
    """

    id: str
    tenant: str
    gpus: int
    submit_time: float
    user: str = ""
    name: str = ""
    duration: float | None = None
    time_limit: float | None = None
    estimate: float | None = None


@dataclass(frozen=True, slots=True)
class Node:
    """A machine with ``gpus`` GPUs (indices ``0..gpus-1``), owned by ``tenant`` if any.

    In partitioned mode only the owner's jobs run on it; in shared mode ownership only says
    whose quota the node counts towards in reports (quotas themselves come from ``Tenant``).
    """

    id: str
    gpus: int
    tenant: str | None = None


@dataclass(frozen=True, slots=True)
class Tenant:
    """A tenant (a team, a VC) with a guaranteed quota of GPUs and a fair-share weight."""

    id: str
    quota_gpus: int
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class Slot:
    """Some GPUs of one node: ``gpu_indices`` are distinct indices in ``0..node.gpus-1``."""

    node_id: str
    gpu_indices: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a job runs: one slot per node, nodes in the order the planner chose them."""

    slots: tuple[Slot, ...]

    @property
    def gpus(self) -> int:
        return sum(len(s.gpu_indices) for s in self.slots)

    @property
    def node_ids(self) -> tuple[str, ...]:
        return tuple(s.node_id for s in self.slots)


@dataclass(frozen=True, slots=True)
class RunningJob:
    """A job that holds GPUs: since ``start_time`` (its latest start, after any preemption).

    ``attained`` is the GPU-seconds of service it received before ``start_time`` (from earlier
    runs that were preempted); its service now is ``attained + gpus * (now - start_time)``.
    """

    job: Job
    placement: Placement
    start_time: float
    attained: float = 0.0


@dataclass(frozen=True, slots=True)
class PendingJob:
    """A pending job that already ran and was preempted: its service so far, for LAS and SRTF.

    Pending jobs that never ran can be given as plain :class:`Job` in ``ClusterState.pending``.
    """

    job: Job
    attained: float = 0.0
    preemptions: int = 0


def _empty_usage() -> Mapping[str, float]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ClusterState:
    """A snapshot of the cluster that the planner decides on.

    ``usage`` is each tenant's decayed past usage in GPU-seconds (for ``fairshare``; missing
    tenants count as zero). ``capabilities`` are those of the backend: without ``PREEMPT`` the
    planner emits no :class:`Preempt`. Jobs of tenants not in ``tenants`` are never started
    (they wait with :attr:`WaitReason.UNKNOWN_TENANT`).
    """

    nodes: tuple[Node, ...]
    tenants: tuple[Tenant, ...]
    running: tuple[RunningJob, ...] = ()
    pending: tuple[Job | PendingJob, ...] = ()
    usage: Mapping[str, float] = field(default_factory=_empty_usage)
    mode: Mode = Mode.SHARED
    capabilities: frozenset[Capability] = ALL_CAPABILITIES


@dataclass(frozen=True, slots=True)
class Start:
    """Start ``job_id`` now on ``placement``."""

    job_id: str
    placement: Placement


@dataclass(frozen=True, slots=True)
class Preempt:
    """Stop ``job_id`` now (checkpoint it) and put it back in the queue; ``reason`` says why."""

    job_id: str
    reason: str


class WaitReason(StrEnum):
    """Why a pending job is not started: a code for programs; :attr:`words` for people.

    ``PRIORITY``: jobs ahead of it in the policy's order get the GPUs first. ``RESOURCES``: not
    enough free GPUs in its pool now. ``QUOTA``: its tenant is at its guarantee and nothing is
    free to borrow. ``RESERVED``: GPUs are held back for a job ahead of it (the detail names
    that job's id). ``NEVER_FITS``: more GPUs than its pool has; the caller should reject it.
    ``UNKNOWN_TENANT``: its tenant is not in the snapshot. ``NEEDS_MULTI_NODE``: more GPUs than
    one node has, and the backend cannot run a job across nodes (no
    :attr:`Capability.MULTI_NODE`).
    """

    PRIORITY = "priority"
    RESOURCES = "resources"
    QUOTA = "quota"
    RESERVED = "reserved"
    NEVER_FITS = "never_fits"
    UNKNOWN_TENANT = "unknown_tenant"
    NEEDS_MULTI_NODE = "needs_multi_node"

    @property
    def words(self) -> str:
        """The reason as its owner reads it (without the detail)."""
        return _WORDS[self]


_WORDS: dict[WaitReason, str] = {
    WaitReason.PRIORITY: "priority: jobs ahead of it in the policy's order",
    WaitReason.RESOURCES: "resources: no node has enough free GPUs now",
    WaitReason.QUOTA: "quota: its allocation is at its guaranteed GPUs and none are free to borrow",
    WaitReason.RESERVED: "reserved: GPUs held back for a job ahead of it",
    WaitReason.NEVER_FITS: "never fits: more GPUs than its pool has",
    WaitReason.UNKNOWN_TENANT: "unknown tenant: its allocation is not in the snapshot",
    WaitReason.NEEDS_MULTI_NODE: "needs several nodes: the backend runs a job on one node only",
}

# the short phrases of the first plain-text reasons, still read by ``Wait.reason``
_LEGACY: dict[WaitReason, str] = {
    WaitReason.NEVER_FITS: "never fits",
    WaitReason.UNKNOWN_TENANT: "unknown tenant",
    WaitReason.NEEDS_MULTI_NODE: "needs multi-node",
}


@dataclass(frozen=True, slots=True)
class Wait:
    """``job_id`` stays pending because of ``code``; ``detail`` adds free words (or ``""``).

    For :attr:`WaitReason.RESERVED` the detail is the id of the job the GPUs are held for.
    Code reads ``code``; people read :attr:`text` (also ``str(wait)``).
    """

    job_id: str
    code: WaitReason
    detail: str = ""

    @property
    def text(self) -> str:
        """The reason in words, with the detail."""
        if self.code is WaitReason.RESERVED and self.detail:
            return f"reserved: GPUs held back for job {self.detail}"
        words = self.code.words
        return f"{words} ({self.detail})" if self.detail else words

    @property
    def reason(self) -> str:
        """The short phrase of the first plain-text reasons (``"priority"``, ``"reserved for
        job <id>"``, ``"never fits"``...): kept for callers written before ``code``."""
        if self.code is WaitReason.RESERVED:
            return f"reserved for job {self.detail}"
        return _LEGACY.get(self.code, self.code.value)

    def __str__(self) -> str:
        return self.text


Decision = Start | Preempt | Wait
