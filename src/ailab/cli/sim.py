"""``ailab sim``: replay cluster traces through the scheduling policies.

Only translates: parses options, loads the workload, calls the simulator, renders tables (rich)
and plots (matplotlib, Agg). Errors end with one clear line and a non-zero exit.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from ailab.scheduling.metrics import Metrics, compute_metrics
from ailab.scheduling.model import Mode
from ailab.scheduling.policies import POLICIES, Policy, get_policy
from ailab.scheduling.simulator import SimResult, simulate
from ailab.scheduling.traces import TraceError, Workload, load_workload


def _iso(value: str | None, flag: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise click.ClickException(f"{flag}: not an ISO date and time: {value!r}") from None


def _workload(opts: dict[str, Any]) -> Workload:
    for flag in ("trace", "partitions"):
        if not Path(opts[flag]).is_file():
            raise click.ClickException(f"--{flag}: no such file: {opts[flag]}")
    try:
        return load_workload(
            opts["trace"],
            opts["partitions"],
            scale=opts["scale"],
            start=_iso(opts["start"], "--start"),
            end=_iso(opts["end"], "--end"),
            gpus_per_node=opts["gpus_per_node"],
        )
    except TraceError as exc:
        raise click.ClickException(f"malformed trace: {exc}") from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise click.ClickException(f"cannot read trace: {exc}") from None


def _policy(name: str) -> Policy:
    try:
        return get_policy(name)
    except KeyError:
        known = ", ".join(sorted(POLICIES))
        raise click.ClickException(f"unknown policy {name!r} (known: {known})") from None


def _run(wl: Workload, pol: Policy, mode: Mode) -> tuple[SimResult, Metrics, float]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    t0 = time.perf_counter()
    with Progress(
        TextColumn(f"{pol.name} {mode.value}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} jobs"),
        TimeElapsedColumn(),
        console=_stderr(),
        transient=True,
        disable=len(wl.jobs) < 20_000,
    ) as bar:
        task = bar.add_task("sim", total=len(wl.jobs))
        step = max(len(wl.jobs) // 200, 1)
        shown = [-step]

        def progress(done: int, _total: int) -> None:
            if done - shown[0] >= step:  # redrawing costs more than simulating
                shown[0] = done
                bar.update(task, completed=done)

        res = simulate(wl, pol, mode=mode, progress=progress)
        bar.update(task, completed=len(res.records))
    wall = time.perf_counter() - t0
    return res, compute_metrics(res), wall


def _stderr() -> Any:
    from rich.console import Console

    return Console(file=sys.stderr)


def _fmt(x: float) -> str:
    return f"{x:,.0f}"


def _table(rows: list[tuple[str, Metrics, float]], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for col in (
        "policy", "jobs", "rejected", "avg JCT s", "median JCT s", "avg queue s", "p50 q s",
        "p95 q s", "p99 q s", "p99.9 q s", "queued", "util", "preemptions", "wall s",
    ):  # fmt: skip
        table.add_column(col, justify="left" if col == "policy" else "right")
    for name, m, wall in rows:
        table.add_row(
            name, str(m.jobs), str(m.rejected), _fmt(m.avg_jct_s), _fmt(m.median_jct_s),
            _fmt(m.avg_queue_s), _fmt(m.p50_queue_s), _fmt(m.p95_queue_s), _fmt(m.p99_queue_s),
            _fmt(m.p999_queue_s), f"{m.frac_queued:.1%}", f"{m.utilisation:.1%}",
            str(m.preemptions), f"{wall:.2f}",
        )  # fmt: skip
    console = Console()
    if not console.is_terminal or console.width < 150:
        console = Console(width=170)
    console.print(table)


def _trace_options(f: Any) -> Any:
    opts = [
        click.option("--trace", required=True, help="Job trace (Helios schema, gz or csv)."),
        click.option("--partitions", required=True, help="vc,nodes table of tenant quotas."),
        click.option(
            "--scale",
            type=float,
            default=1.0,
            show_default=True,
            help="Scale every tenant's nodes (at least one each).",
        ),
        click.option(
            "--mode",
            type=click.Choice([m.value for m in Mode]),
            default=Mode.PARTITIONED.value,
            show_default=True,
        ),
        click.option("--start", default=None, help="Window start, ISO (inclusive)."),
        click.option("--end", default=None, help="Window end, ISO (inclusive)."),
        click.option("--gpus-per-node", type=int, default=8, show_default=True),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


@click.group()
def sim() -> None:
    """Replay cluster traces through the scheduling policies."""


@sim.command("run")
@_trace_options
@click.option("--policy", required=True, help=f"One of: {', '.join(sorted(POLICIES))}.")
@click.option("--json", "json_path", default=None, help="Write the metrics as JSON here.")
def run_cmd(**opts: Any) -> None:
    """Simulate one policy and print its metrics."""
    pol = _policy(opts["policy"])
    wl = _workload(opts)
    mode = Mode(opts["mode"])
    _, m, wall = _run(wl, pol, mode)
    _table([(pol.name, m, wall)], _title(wl, opts))
    if opts["json_path"]:
        out = m.as_dict()
        out["wall_s"] = wall
        out["dropped_unknown_tenant"] = wl.dropped_unknown_tenant
        try:
            Path(opts["json_path"]).write_text(json.dumps(out, indent=2) + "\n")
        except OSError as exc:
            raise click.ClickException(f"--json: cannot write: {exc}") from None


def _title(wl: Workload, opts: dict[str, Any]) -> str:
    gpus = sum(n.gpus for n in wl.nodes)
    return (
        f"{len(wl.jobs)} jobs, {gpus} GPUs, {opts['mode']}, scale {opts['scale']}"
        f" ({wl.dropped_unknown_tenant} jobs of unknown tenants dropped)"
    )


@sim.command("compare")
@_trace_options
@click.option(
    "--policies", required=True, help=f"Comma-separated, from: {', '.join(sorted(POLICIES))}."
)
@click.option("--plot", "plot_path", default=None, help="Write a PNG: JCT CDF, queue length.")
def compare_cmd(**opts: Any) -> None:
    """Simulate several policies on the same trace; one table, optionally a plot."""
    names = [n.strip() for n in opts["policies"].split(",") if n.strip()]
    if not names:
        raise click.ClickException("--policies: give at least one policy name")
    pols = [_policy(n) for n in names]
    wl = _workload(opts)
    mode = Mode(opts["mode"])
    rows: list[tuple[str, Metrics, float]] = []
    results: list[SimResult] = []
    for pol in pols:
        res, m, wall = _run(wl, pol, mode)
        rows.append((pol.name, m, wall))
        results.append(res)
    _table(rows, _title(wl, opts))
    if opts["plot_path"]:
        _plot(results, Path(opts["plot_path"]))


def _plot(results: list[SimResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for res in results:
        jcts = sorted(r.end - r.submit for r in res.records)
        n = len(jcts)
        if n:
            ax1.plot(jcts, [(i + 1) / n for i in range(n)], label=res.policy)
        xs = [t / 3600.0 for t, _ in res.queue_series]
        ax2.plot(xs, [q for _, q in res.queue_series], label=res.policy, linewidth=0.8)
    ax1.set_xscale("log")
    ax1.set_xlabel("job completion time (s)")
    ax1.set_ylabel("fraction of jobs")
    ax1.set_title("JCT CDF")
    ax2.set_xlabel("time (h)")
    ax2.set_ylabel("pending jobs")
    ax2.set_title("queue length")
    for ax in (ax1, ax2):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=110)
    except OSError as exc:
        raise click.ClickException(f"--plot: cannot write: {exc}") from None
    finally:
        plt.close(fig)
