"""Metrics of a simulation run: JCT, queueing delay percentiles, utilisation, per tenant."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from ailab.scheduling.simulator import JobRecord, SimResult


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation (numpy's default)."""
    if not sorted_values:
        return 0.0
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


@dataclass(frozen=True, slots=True)
class TenantMetrics:
    jobs: int
    avg_jct_s: float
    avg_queue_s: float


@dataclass(frozen=True, slots=True)
class Metrics:
    """The figures of one run; ``as_dict()`` is the ``--json`` shape of ``ailab sim run``."""

    jobs: int
    rejected: int
    avg_jct_s: float
    median_jct_s: float
    avg_queue_s: float
    p50_queue_s: float
    p95_queue_s: float
    p99_queue_s: float
    p999_queue_s: float
    frac_queued: float
    utilisation: float
    makespan_s: float
    preemptions: int
    per_tenant: dict[str, TenantMetrics] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            k: getattr(self, k) for k in self.__slots__ if k not in ("per_tenant",)
        }
        out["per_tenant"] = {
            t: {"jobs": m.jobs, "avg_jct_s": m.avg_jct_s, "avg_queue_s": m.avg_queue_s}
            for t, m in sorted(self.per_tenant.items())
        }
        return out


def _per_tenant(records: Sequence[JobRecord]) -> dict[str, TenantMetrics]:
    acc: dict[str, list[float]] = {}
    for r in records:
        a = acc.setdefault(r.tenant, [0.0, 0.0, 0.0])
        a[0] += 1
        a[1] += r.end - r.submit
        a[2] += r.queued
    return {t: TenantMetrics(int(a[0]), a[1] / a[0], a[2] / a[0]) for t, a in sorted(acc.items())}


def compute_metrics(result: SimResult) -> Metrics:
    """Aggregate the per-job records of ``result``."""
    recs = result.records
    n = len(recs)
    jcts = sorted(r.end - r.submit for r in recs)
    queues = sorted(r.queued for r in recs)
    makespan = max(result.last_end - result.first_submit, 0.0)
    capacity = result.total_gpus * makespan
    return Metrics(
        jobs=n,
        rejected=len(result.rejected),
        avg_jct_s=sum(jcts) / n if n else 0.0,
        median_jct_s=percentile(jcts, 50),
        avg_queue_s=sum(queues) / n if n else 0.0,
        p50_queue_s=percentile(queues, 50),
        p95_queue_s=percentile(queues, 95),
        p99_queue_s=percentile(queues, 99),
        p999_queue_s=percentile(queues, 99.9),
        frac_queued=sum(1 for q in queues if q > 0) / n if n else 0.0,
        utilisation=result.busy_gpu_seconds / capacity if capacity > 0 else 0.0,
        makespan_s=makespan,
        preemptions=sum(r.preemptions for r in recs),
        per_tenant=_per_tenant(recs),
    )
