"""``ailab sim``: tables, JSON, plot, and one-line errors with a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ailab.cli.sim import sim

HEADER = "job_id,user,vc,jobname,gpu_num,cpu_num,node_num,state,submit_time,duration\n"
ROWS = "".join(
    f"{k},u,{'vA' if k % 3 else 'vB'},n{k},{[1, 2, 4, 8][k % 4]},0,1,UNKNOWN,"
    f"2017-10-01 00:{k:02d}:00,{60 + 37 * k % 500}\n"
    for k in range(40)
)


@pytest.fixture
def files(tmp_path: Path) -> tuple[str, str]:
    trace = tmp_path / "jobs.csv"
    trace.write_text(HEADER + ROWS)
    parts = tmp_path / "vc.csv"
    parts.write_text("vc,nodes\nvA,2\nvB,1\n")
    return str(trace), str(parts)


def test_run_prints_a_table_and_writes_json(files: tuple[str, str], tmp_path: Path) -> None:
    """``sim run`` shows the policy's row and writes every documented JSON key."""
    out = tmp_path / "m.json"
    args = ["run", "--trace", files[0], "--partitions", files[1], "--policy", "ailab",
            "--mode", "shared", "--scale", "0.5", "--json", str(out)]  # fmt: skip
    res = CliRunner().invoke(sim, args)
    assert res.exit_code == 0, res.output
    assert "ailab" in res.output
    data = json.loads(out.read_text())
    keys = {"jobs", "avg_jct_s", "median_jct_s", "avg_queue_s", "p50_queue_s", "p95_queue_s",
            "p99_queue_s", "p999_queue_s", "frac_queued", "utilisation", "makespan_s", "wall_s",
            "per_tenant"}  # fmt: skip
    assert keys <= set(data)
    assert data["jobs"] == 40
    assert set(data["per_tenant"]) == {"vA", "vB"}
    assert set(data["per_tenant"]["vA"]) == {"jobs", "avg_jct_s", "avg_queue_s"}


def test_compare_writes_a_png(files: tuple[str, str], tmp_path: Path) -> None:
    """``sim compare`` lists each policy once and writes a PNG plot."""
    png = tmp_path / "cmp.png"
    args = ["compare", "--trace", files[0], "--partitions", files[1],
            "--policies", "fifo,sjf,ailab", "--plot", str(png)]  # fmt: skip
    res = CliRunner().invoke(sim, args)
    assert res.exit_code == 0, res.output
    assert all(p in res.output for p in ("fifo", "sjf", "ailab"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--trace": "/nonexistent/jobs.csv"}, "no such file"),
        ({"--policy": "nope"}, "unknown policy 'nope'"),
        ({"--start": "tuesday"}, "not an ISO date"),
    ],
)
def test_errors_are_one_clear_line(files: tuple[str, str], change: dict, message: str) -> None:  # type: ignore[type-arg]
    """Bad paths, unknown policies and bad dates exit non-zero with one 'Error:' line."""
    opts = {"--trace": files[0], "--partitions": files[1], "--policy": "fifo"} | change
    res = CliRunner().invoke(sim, ["run", *[x for kv in opts.items() for x in kv]])
    assert res.exit_code != 0
    assert message in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_malformed_trace_names_line_and_column(tmp_path: Path, files: tuple[str, str]) -> None:
    """A malformed row: exit non-zero, the error says the file, line and column."""
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "1,u,vA,n,x,0,1,UNKNOWN,2017-10-01 00:00:00,5\n")
    res = CliRunner().invoke(
        sim, ["run", "--trace", str(bad), "--partitions", files[1], "--policy", "fifo"]
    )
    assert res.exit_code != 0
    assert "malformed trace" in res.output
    assert ":2:" in res.output
    assert "gpu_num" in res.output
