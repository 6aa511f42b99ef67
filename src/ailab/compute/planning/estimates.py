"""The live policy's run-time estimator: fed with the jobs that finish, kept across restarts.

The same :class:`ailab.scheduling.estimate.RuntimeEstimator` the simulator's ``ailab`` policy
uses, grouped by tenant (allocation), user, job name and GPUs. Its state is a row per cluster
(``EstimatorState``); the loop loads it once and saves it after a pass in which jobs finished.
"""

from __future__ import annotations

import datetime as dt
import logging

from ailab.compute.models import EstimatorState, JobStatus
from ailab.compute.planning.snapshot import plan_job
from ailab.scheduling.estimate import EstimatorStateError, RuntimeEstimator

log = logging.getLogger(__name__)

# Runs that say how long such a job takes: those that ran to their end or to their limit.
LEARN_FROM = frozenset({JobStatus.COMPLETED, JobStatus.TIMEOUT})


def estimator_load(cluster_id: int) -> RuntimeEstimator:
    """The cluster's saved estimator, or a new one (a bad saved state is logged, not fatal)."""
    row = EstimatorState.objects.filter(cluster_id=cluster_id).first()
    if row is None or not row.state:
        return RuntimeEstimator()
    try:
        return RuntimeEstimator.from_state(row.state)
    except EstimatorStateError:
        log.exception("cluster %s: saved estimator state unreadable; starting afresh", cluster_id)
        return RuntimeEstimator()


def estimator_save(cluster_id: int, estimator: RuntimeEstimator) -> None:
    EstimatorState.objects.update_or_create(
        cluster_id=cluster_id, defaults={"state": estimator.to_state()}
    )


def estimator_observe(
    estimator: RuntimeEstimator,
    *,
    pk: int,
    allocation_id: int,
    user_id: int,
    name: str,
    gpus: int,
    time_limit_s: int,
    created_at: dt.datetime,
    attained_gpu_seconds: int,
    run_seconds: float,
) -> None:
    """Learn a finished job's run time: its GPU-seconds over all its runs divided by its
    GPUs (as the simulator counts service), or the last run's length for a job without GPUs."""
    job = plan_job(
        pk=pk,
        allocation_id=allocation_id,
        gpus=gpus,
        created_at=created_at,
        user_id=user_id,
        name=name,
        time_limit_s=time_limit_s,
    )
    ran = attained_gpu_seconds / gpus if gpus else run_seconds
    estimator.observe(job, float(ran))
