"""Trace loading: schema, window, scale, quotas, dropped jobs, and clear errors."""

from __future__ import annotations

import gzip
from datetime import datetime
from pathlib import Path

import pytest

from ailab.scheduling.traces import (
    TraceError,
    build_workload,
    lines_of,
    load_workload,
    read_jobs,
    read_partitions,
    scaled_cluster,
)

HEADER = "job_id,user,vc,jobname,gpu_num,cpu_num,node_num,state,submit_time,duration\n"
ROWS = (
    "1,u1,vA,n1,1,0,1,UNKNOWN,2017-10-01 00:00:10,100\n"
    "2,u2,vB,n2,8,0,1,UNKNOWN,2017-10-01 00:01:00,50\n"
    "3,u1,vX,n3,2,0,1,UNKNOWN,2017-10-01 00:02:00,10\n"
    "4,u1,vA,n4,4,0,1,UNKNOWN,2017-10-02 00:00:00,10\n"
)
PARTS = "vc,nodes\nvA,4\nvB,1\n"


def test_window_scale_quotas_and_dropped(tmp_path: Path) -> None:
    """Window [Oct 1 00:00, Oct 1 23:59] keeps jobs 1-3; vX is not in the table: job 3 dropped
    and counted. Scale 0.5: vA 4 -> 2 nodes (16 GPUs), vB 1 -> 1 node (at least one). Times are
    seconds since the window start."""
    trace = tmp_path / "jobs.csv"
    trace.write_text(HEADER + ROWS)
    parts = tmp_path / "vc.csv"
    parts.write_text(PARTS)
    wl = load_workload(
        trace, parts, scale=0.5, start=datetime(2017, 10, 1), end=datetime(2017, 10, 1, 23, 59)
    )
    assert [j.id for j in wl.jobs] == ["1", "2"]
    assert [j.submit_time for j in wl.jobs] == [10.0, 60.0]
    assert wl.jobs[0].duration == 100.0
    assert wl.jobs[0].user == "u1"
    assert (wl.dropped_unknown_tenant, wl.dropped_tenants) == (1, ("vX",))
    assert {t.id: t.quota_gpus for t in wl.tenants} == {"vA": 16, "vB": 8}
    assert [n.tenant for n in wl.nodes] == ["vA", "vA", "vB"]


def test_gzip_and_plain_read_the_same(tmp_path: Path) -> None:
    """A gzip-compressed trace (whatever its name) reads exactly like the plain one."""
    plain, packed = tmp_path / "a.csv", tmp_path / "b.csv.gz"
    plain.write_text(HEADER + ROWS)
    packed.write_bytes(gzip.compress((HEADER + ROWS).encode()))
    parts = tmp_path / "vc.csv"
    parts.write_text(PARTS)
    assert load_workload(plain, parts).jobs == load_workload(packed, parts).jobs


@pytest.mark.parametrize(
    ("row", "line", "column"),
    [
        ("5,u,vA,n,two,0,1,UNKNOWN,2017-10-01 00:00:00,5\n", 3, "gpu_num"),
        ("5,u,vA,n,1,0,1,UNKNOWN,yesterday,5\n", 3, "submit_time"),
        ("5,u,vA,n,1,0,1,UNKNOWN,2017-10-01 00:00:00,-4\n", 3, "duration"),
        ("5,u,vA,n,1,0,1,UNKNOWN,2017-10-01 00:00:00\n", 3, "*"),
        (",u,vA,n,1,0,1,UNKNOWN,2017-10-01 00:00:00,5\n", 3, "job_id"),
    ],
)
def test_malformed_rows_raise_with_line_and_column(row: str, line: int, column: str) -> None:
    """A bad row is never skipped: TraceError names the line (header = 1) and the column."""
    text = HEADER + ROWS.splitlines(keepends=True)[0] + row
    with pytest.raises(TraceError) as err:
        read_jobs(lines_of(text), source="t.csv")
    assert (err.value.line, err.value.column) == (line, column)
    assert f"t.csv:{line}:" in str(err.value)


def test_missing_column_and_bad_partitions() -> None:
    """A header without gpu_num, a duplicate tenant and zero nodes are errors too."""
    with pytest.raises(TraceError, match="gpu_num"):
        read_jobs(lines_of("job_id,vc,submit_time,duration\n"))
    with pytest.raises(TraceError, match="duplicate tenant"):
        read_partitions(lines_of("vc,nodes\nvA,1\nvA,2\n"))
    with pytest.raises(TraceError, match="at least 1"):
        read_partitions(lines_of("vc,nodes\nvA,0\n"))


def test_cpu_jobs_are_dropped_and_counted() -> None:
    """Jobs asking for no GPU are not GPU work: dropped, and counted in ``dropped_no_gpu``."""
    text = HEADER + "9,u,vA,n,0,4,1,UNKNOWN,2017-10-01 00:00:00,5\n" + ROWS
    rows, no_gpu = read_jobs(lines_of(text))
    wl = build_workload(rows, {"vA": 1, "vB": 1}, no_gpu=no_gpu)
    assert wl.dropped_no_gpu == 1
    assert "9" not in {j.id for j in wl.jobs}


def test_scaling_keeps_at_least_one_node() -> None:
    """Scale 0.25 of 64, 8 and 1 nodes: 16, 2 and 1 (never zero)."""
    nodes, tenants = scaled_cluster({"a": 64, "b": 8, "c": 1}, scale=0.25)
    assert [t.quota_gpus for t in tenants] == [128, 16, 8]
    assert len(nodes) == 19
    with pytest.raises(ValueError, match="scale"):
        scaled_cluster({"a": 1}, scale=0)
