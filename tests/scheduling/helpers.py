"""Small builders for hand-made workloads and cluster states."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ailab.scheduling.model import Job, Node, Tenant
from ailab.scheduling.simulator import JobRecord, SimResult
from ailab.scheduling.traces import Workload

TRACES = Path(__file__).resolve().parents[2] / ".." / "shared" / "traces"


def job(
    jid: str,
    gpus: int,
    submit: float,
    duration: float,
    tenant: str = "a",
    **kw: object,
) -> Job:
    return Job(jid, tenant, gpus, submit, duration=duration, **kw)  # type: ignore[arg-type]


def workload(
    jobs: Sequence[Job],
    nodes: Sequence[tuple[int, str]] = ((4, "a"),),
    quotas: dict[str, int] | None = None,
) -> Workload:
    """Nodes given as (GPUs, owner); each tenant's quota is its nodes' GPUs unless given."""
    ns = tuple(Node(f"n{i}", g, t) for i, (g, t) in enumerate(nodes))
    owners: dict[str, int] = {}
    for g, t in nodes:
        owners[t] = owners.get(t, 0) + g
    for j in jobs:
        owners.setdefault(j.tenant, 0)
    q = quotas or owners
    tenants = tuple(Tenant(t, q.get(t, 0)) for t in sorted(owners))
    return Workload(tuple(sorted(jobs, key=lambda j: j.submit_time)), ns, tenants)


def by_id(result: SimResult) -> dict[str, JobRecord]:
    return {r.job_id: r for r in result.records}
