"""Traces in the Helios schema: jobs, partitions (``vc,nodes``), window and scale.

The only module of the core that reads files, and only from a path or lines that the caller
names. Rows that cannot be read raise :class:`TraceError` with the line and the column; no row
is ever skipped silently. Jobs of tenants absent from the partition table are dropped and
counted (as the Helios simulator does), and so are jobs asking for no GPU (CPU jobs).

Times become float seconds on a virtual clock whose zero is the window start (or the first job
when no start is given).
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ailab.scheduling.model import Job, Node, Tenant

JOB_COLUMNS = ("job_id", "vc", "gpu_num", "submit_time", "duration")


class TraceError(ValueError):
    """A trace or partition file that cannot be read; says where."""

    def __init__(self, source: str, line: int, column: str, message: str) -> None:
        self.source, self.line, self.column = source, line, column
        super().__init__(f"{source}:{line}: column {column!r}: {message}")


@dataclass(frozen=True, slots=True)
class Workload:
    """Jobs to replay on a cluster: what the simulator takes."""

    jobs: tuple[Job, ...]
    nodes: tuple[Node, ...]
    tenants: tuple[Tenant, ...]
    dropped_unknown_tenant: int = 0
    dropped_no_gpu: int = 0
    dropped_tenants: tuple[str, ...] = field(default=())
    origin: datetime | None = None


def _open_lines(path: Path) -> Iterator[str]:
    with path.open("rb") as raw:
        magic = raw.read(2)
    if magic == b"\x1f\x8b":
        with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
            yield from fh
    else:
        with path.open("r", encoding="utf-8", newline="") as fh:
            yield from fh


def _parse_time(text: str, source: str, line: int) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise TraceError(source, line, "submit_time", f"not a date and time: {text!r}") from None


def _int(row: dict[str, str], col: str, source: str, line: int, low: int) -> int:
    text = row.get(col)
    try:
        value = int(text) if text is not None else None
    except ValueError:
        value = None
    if value is None:
        raise TraceError(source, line, col, f"not an integer: {text!r}")
    if value < low:
        raise TraceError(source, line, col, f"must be at least {low}, got {value}")
    return value


def read_jobs(
    lines: Iterable[str],
    *,
    source: str = "<jobs>",
    start: datetime | None = None,
    end: datetime | None = None,
) -> tuple[list[tuple[datetime, Job]], int]:
    """Rows of a Helios job CSV within ``[start, end]`` (both inclusive), in file order.

    Returns ``(rows, no_gpu)`` where rows pair the submission time with a :class:`Job` whose
    ``submit_time`` is still zero (see :func:`build_workload`), and ``no_gpu`` counts the
    jobs dropped for asking for no GPU.
    """
    reader = csv.DictReader(lines)
    missing = [c for c in JOB_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise TraceError(source, 1, missing[0], "missing column in the header")
    out: list[tuple[datetime, Job]] = []
    no_gpu = 0
    for row in reader:
        line = reader.line_num
        if None in row or any(v is None for v in row.values()):
            raise TraceError(source, line, "*", "wrong number of fields")
        when = _parse_time(row["submit_time"], source, line)
        if (start is not None and when < start) or (end is not None and when > end):
            continue
        gpus = _int(row, "gpu_num", source, line, 0)
        duration = _int(row, "duration", source, line, 0)
        job_id = row["job_id"].strip()
        if not job_id:
            raise TraceError(source, line, "job_id", "empty")
        if gpus == 0:
            no_gpu += 1
            continue
        job = Job(
            id=job_id,
            tenant=row["vc"].strip(),
            gpus=gpus,
            submit_time=0.0,
            user=row.get("user", "") or "",
            name=row.get("jobname", "") or "",
            duration=float(duration),
        )
        out.append((when, job))
    return out, no_gpu


def read_partitions(lines: Iterable[str], *, source: str = "<partitions>") -> dict[str, int]:
    """A ``vc,nodes`` table as ``{tenant: nodes}``, in file order."""
    reader = csv.DictReader(lines)
    for col in ("vc", "nodes"):
        if col not in (reader.fieldnames or []):
            raise TraceError(source, 1, col, "missing column in the header")
    out: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        name = (row.get("vc") or "").strip()
        if not name:
            raise TraceError(source, line, "vc", "empty")
        if name in out:
            raise TraceError(source, line, "vc", f"duplicate tenant {name!r}")
        out[name] = _int(row, "nodes", source, line, 1)
    return out


def scaled_cluster(
    partitions: dict[str, int], *, scale: float = 1.0, gpus_per_node: int = 8
) -> tuple[tuple[Node, ...], tuple[Tenant, ...]]:
    """Nodes and tenants: each tenant owns ``max(1, floor(nodes * scale))`` nodes.

    A tenant's quota is the GPUs of the nodes it owns.
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    nodes: list[Node] = []
    tenants: list[Tenant] = []
    for name, count in partitions.items():
        n = max(1, int(count * scale + 1e-9))
        nodes.extend(Node(f"{name}-{i:03d}", gpus_per_node, name) for i in range(n))
        tenants.append(Tenant(name, n * gpus_per_node))
    return tuple(nodes), tuple(tenants)


def build_workload(
    rows: list[tuple[datetime, Job]],
    partitions: dict[str, int],
    *,
    scale: float = 1.0,
    gpus_per_node: int = 8,
    origin: datetime | None = None,
    no_gpu: int = 0,
) -> Workload:
    """Jobs on the virtual clock (zero at ``origin`` or the first job), sorted by submission."""
    nodes, tenants = scaled_cluster(partitions, scale=scale, gpus_per_node=gpus_per_node)
    if origin is None and rows:
        origin = min(when for when, _ in rows)
    jobs: list[Job] = []
    dropped: dict[str, int] = {}
    for when, job in rows:
        if job.tenant not in partitions:
            dropped[job.tenant] = dropped.get(job.tenant, 0) + 1
            continue
        assert origin is not None
        t = (when - origin).total_seconds()
        jobs.append(
            Job(job.id, job.tenant, job.gpus, t, job.user, job.name, job.duration, None, None)
        )
    jobs.sort(key=lambda j: j.submit_time)
    return Workload(
        jobs=tuple(jobs),
        nodes=nodes,
        tenants=tenants,
        dropped_unknown_tenant=sum(dropped.values()),
        dropped_no_gpu=no_gpu,
        dropped_tenants=tuple(sorted(dropped)),
        origin=origin,
    )


def load_workload(
    trace: Path | str,
    partitions: Path | str,
    *,
    scale: float = 1.0,
    start: datetime | None = None,
    end: datetime | None = None,
    gpus_per_node: int = 8,
) -> Workload:
    """Read a job trace (gzip or plain CSV) and a ``vc,nodes`` table from files."""
    trace, partitions = Path(trace), Path(partitions)
    rows, no_gpu = read_jobs(_open_lines(trace), source=str(trace), start=start, end=end)
    table = read_partitions(_open_lines(partitions), source=str(partitions))
    return build_workload(
        rows, table, scale=scale, gpus_per_node=gpus_per_node, origin=start, no_gpu=no_gpu
    )


def lines_of(text: str) -> Iterator[str]:
    """The lines of an in-memory CSV (for tests and callers that hold the text)."""
    return iter(io.StringIO(text, newline=""))
