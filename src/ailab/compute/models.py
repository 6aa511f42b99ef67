"""Compute: clusters, nodes and GPUs, allocations, jobs, GPU assignments and usage.

GPU time is integer GPU-seconds everywhere (GPU-hours only for display); times are aware UTC.
Allowed status transitions are declared here as data (DESIGN.md rule 4).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from ailab.accounts.models import Organisation
from ailab.common.models import TimeStampedModel
from ailab.common.transitions import Transitions

NAME_MAX = 100
ACCOUNT_MAX = 32


class GpuModel(models.Model):
    """A catalogue entry: a GPU's name, memory and peak dense FP16/BF16 TFLOPS."""

    name = models.CharField(max_length=NAME_MAX, unique=True)
    memory_mb = models.PositiveIntegerField(default=0)
    tflops_bf16 = models.DecimalField(
        max_digits=8, decimal_places=1, default=Decimal(0), help_text="Peak dense FP16/BF16."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Backend(models.TextChoices):
    LOCAL = "local", "Local processes"
    SLURM = "slurm", "Slurm"


class Cluster(TimeStampedModel):
    """A pool of nodes run by one backend. ``version`` guards the scheduler's decisions."""

    name = models.CharField(max_length=NAME_MAX, unique=True)
    backend = models.CharField(max_length=16, choices=Backend.choices, default=Backend.LOCAL)
    version = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SchedulerLease(models.Model):
    """One loop at a time per cluster: the holder renews it each pass; it expires if it dies."""

    cluster = models.OneToOneField(Cluster, on_delete=models.CASCADE, related_name="lease")
    owner = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"lease on {self.cluster_id} by {self.owner or '-'}"


class Node(TimeStampedModel):
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="nodes")
    name = models.CharField(max_length=NAME_MAX)
    gpus = models.PositiveIntegerField(default=0)
    gpu_model = models.ForeignKey(GpuModel, on_delete=models.PROTECT, null=True, blank=True)
    cpus = models.PositiveIntegerField(null=True, blank=True)
    memory_mb = models.PositiveBigIntegerField(null=True, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["cluster__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["cluster", "name"], name="node_unique_per_cluster")
        ]

    def __str__(self) -> str:
        return self.name


class AllocationState(models.TextChoices):
    PENDING = "pending", "Pending"
    ACTIVE = "active", "Active"
    EXHAUSTED = "exhausted", "Exhausted"
    EXPIRED = "expired", "Expired"


# An allocation's state is derived (dates, then budget): a grant whose dates or budget change
# may move between any two states; it is still written only by ``allocation_transition``.
ALLOCATION_TRANSITIONS = Transitions(
    "allocation",
    {s: {t for t in AllocationState if t != s} for s in AllocationState},
    field="state",
)


class Allocation(TimeStampedModel):
    """A GPU-time budget for an organisation's team on one cluster.

    Balance = ``budget_gpu_seconds`` minus the sum of its usage: computed, never stored.
    ``account`` is a Slurm account name (lowercase, at most 32 characters, unique per cluster).
    """

    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="allocations")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="allocations"
    )
    name = models.CharField(max_length=NAME_MAX)
    account = models.CharField(max_length=ACCOUNT_MAX)
    budget_gpu_seconds = models.BigIntegerField()
    starts_on = models.DateField()
    ends_on = models.DateField()
    gpu_quota = models.PositiveIntegerField(default=0)
    weight = models.DecimalField(max_digits=8, decimal_places=3, default=Decimal(1))
    state = models.CharField(
        max_length=16, choices=AllocationState.choices, default=AllocationState.PENDING
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="compute_allocations", blank=True
    )
    note = models.TextField(blank=True, max_length=2000)
    notified_80_at = models.DateTimeField(null=True, blank=True)
    notified_100_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering = ["cluster__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["cluster", "name"], name="allocation_name_per_cluster"),
            models.UniqueConstraint(
                fields=["cluster", "account"], name="allocation_account_per_cluster"
            ),
            models.CheckConstraint(
                condition=Q(budget_gpu_seconds__gt=0), name="allocation_budget_positive"
            ),
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")), name="allocation_dates_ordered"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    TIMEOUT = "timeout", "Timed out"


class ReasonCode(models.TextChoices):
    """Why a job is where it is, for programs (``Job.reason_code``); ``Job.reason`` holds the
    words its owner reads. The planner's codes are its ``WaitReason`` values, the same strings
    (a test checks every ``WaitReason`` is here); the rest are compute's own."""

    NONE = "", "None"
    PRIORITY = "priority", "Priority"
    RESOURCES = "resources", "Resources"
    QUOTA = "quota", "Quota"
    RESERVED = "reserved", "Reserved"
    NEVER_FITS = "never_fits", "Never fits"
    UNKNOWN_TENANT = "unknown_tenant", "Unknown tenant"
    NEEDS_MULTI_NODE = "needs_multi_node", "Needs several nodes"
    QUEUED = "queued", "Queued"
    BUDGET = "budget", "Budget"
    ALLOCATION_NOT_STARTED = "allocation_not_started", "Allocation not started"
    ALLOCATION_EXPIRED = "allocation_expired", "Allocation expired"
    RELEASING = "releasing", "Waiting for preempted jobs to release GPUs"
    STARTING = "starting", "Starting"
    PREEMPTING = "preempting", "Preempting"
    PREEMPTED = "preempted", "Preempted and requeued"
    BACKEND = "backend", "Reported by the backend"
    SUBMIT_FAILED = "submit_failed", "Submit failed"
    CANCELLING = "cancelling", "Cancelling"


# A preempted job goes back to PENDING (requeued) with its reason; LOST jobs end FAILED.
JOB_TRANSITIONS = Transitions(
    "job",
    {
        JobStatus.PENDING: {JobStatus.RUNNING, JobStatus.CANCELLED},
        JobStatus.RUNNING: {
            JobStatus.COMPLETED,
            JobStatus.FAILED,
            JobStatus.CANCELLED,
            JobStatus.TIMEOUT,
            JobStatus.PENDING,
        },
        JobStatus.COMPLETED: set(),
        JobStatus.FAILED: set(),
        JobStatus.CANCELLED: set(),
        JobStatus.TIMEOUT: set(),
    },
)
FINISHED = frozenset(JOB_TRANSITIONS.terminal)


class Job(TimeStampedModel):
    """A job: the spec a user submitted, and where it is in its life.

    ``run`` counts the job's starts (a preempted job is started again with ``run + 1``);
    ``external_id`` is the backend's id for the current run, empty until submit returns.
    """

    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="jobs")
    allocation = models.ForeignKey(Allocation, on_delete=models.PROTECT, related_name="jobs")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="compute_jobs"
    )
    name = models.CharField(max_length=NAME_MAX, blank=True)
    command = models.JSONField()
    workdir = models.CharField(max_length=1000, blank=True)
    env = models.JSONField(default=dict, blank=True)
    gpus = models.PositiveIntegerField()
    cpus = models.PositiveIntegerField(default=1)
    memory_mb = models.PositiveIntegerField(null=True, blank=True)
    time_limit_s = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING, db_index=True
    )
    reason = models.CharField(max_length=300, blank=True)
    reason_code = models.CharField(
        max_length=32, choices=ReasonCode.choices, default=ReasonCode.NONE, blank=True
    )
    estimate_s = models.PositiveIntegerField(
        null=True, blank=True, help_text="Predicted run time (seconds) from finished jobs."
    )
    run = models.PositiveIntegerField(default=0)
    external_id = models.CharField(max_length=200, blank=True)
    node = models.ForeignKey(Node, on_delete=models.SET_NULL, null=True, blank=True)
    gpu_indices = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    attained_gpu_seconds = models.BigIntegerField(default=0)
    preemptions = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    preempt_requested = models.BooleanField(default=False)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["cluster", "status"], name="job_cluster_status")]

    def __str__(self) -> str:
        return f"job {self.pk} ({self.name or self.command[0]})"

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def backend_job_id(self) -> str:
        """ailab's id for the current run, as given to the backend (idempotent submit)."""
        return f"{self.pk}.{self.run}"


class GpuAssignment(models.Model):
    """A GPU held by a running job. Unique on (node, index): no GPU is ever double-booked."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="assignments")
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="assignments")
    gpu_index = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["node", "gpu_index"], name="gpu_assigned_once")
        ]

    def __str__(self) -> str:
        return f"{self.node_id}:{self.gpu_index} -> job {self.job_id}"


class Usage(models.Model):
    """GPU-seconds charged to an allocation for one job run, once: ``key`` is unique per
    cluster (``job:<id>:run:<n>`` for ailab's runs; the Slurm importer uses its own keys)."""

    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="usage")
    allocation = models.ForeignKey(Allocation, on_delete=models.PROTECT, related_name="usage")
    job = models.ForeignKey(Job, on_delete=models.SET_NULL, null=True, blank=True)
    key = models.CharField(max_length=200)
    gpu_seconds = models.BigIntegerField()
    gpus = models.PositiveIntegerField(default=0)
    gpu_model = models.ForeignKey(GpuModel, on_delete=models.SET_NULL, null=True, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-ended_at"]
        constraints = [
            models.UniqueConstraint(fields=["cluster", "key"], name="usage_charged_once"),
            models.CheckConstraint(condition=Q(gpu_seconds__gte=0), name="usage_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.key}: {self.gpu_seconds} GPU-s"


class EstimatorState(models.Model):
    """What the live policy's run-time estimator has learned on a cluster, kept across
    restarts (``RuntimeEstimator.to_state()``), written by the loop after a pass in which
    jobs finished."""

    cluster = models.OneToOneField(Cluster, on_delete=models.CASCADE, related_name="estimator")
    state = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"estimator of cluster {self.cluster_id}"
