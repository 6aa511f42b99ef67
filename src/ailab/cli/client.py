"""The users' command-line client: talks HTTP to a lab server (no Django here).

In the idiom of Slurm: ``ailab job submit`` is ``sbatch``, ``ailab job ls`` is ``squeue``,
``ailab job cancel`` is ``scancel``. Configuration: ``ailab login --url URL`` stores the URL
and token in the user's config directory (mode 0600); ``AILAB_URL`` and ``AILAB_TOKEN``
override it. Every error is one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import click
import httpx
from platformdirs import user_config_dir
from rich.console import Console
from rich.table import Table

TIMEOUT = 30.0
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd]?)$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def config_path() -> Path:
    return Path(user_config_dir("ailab")) / "client.json"


def fail(message: str) -> NoReturn:
    click.echo(f"ailab: {message}", err=True)
    sys.exit(1)


def parse_duration(text: str) -> int:
    """Seconds from ``2h``, ``30m``, ``90s``, ``1d``, Slurm's ``[D-]HH:MM:SS`` / ``MM:SS``, or
    bare minutes (as ``sbatch --time``)."""
    raw = text.strip()
    m = _DURATION.match(raw)
    if m:
        value, unit = float(m.group(1)), (m.group(2) or "m").lower()
        seconds = round(value * _UNITS[unit])
    else:
        days = 0
        if "-" in raw:
            d, _, raw = raw.partition("-")
            if not d.isdigit():
                raise click.BadParameter(f"cannot read {text!r} as a duration")
            days = int(d)
        parts = raw.split(":")
        if not all(p.isdigit() for p in parts) or not 1 <= len(parts) <= 3:
            raise click.BadParameter(f"cannot read {text!r} as a duration (e.g. 2h, 1:30:00)")
        nums = [int(p) for p in parts]
        while len(nums) < 3:
            nums.insert(0, 0)
        seconds = days * 86400 + nums[0] * 3600 + nums[1] * 60 + nums[2]
    if seconds <= 0:
        raise click.BadParameter(f"{text!r}: the time limit must be positive")
    return seconds


def parse_memory(text: str) -> int:
    """MiB from ``16G``, ``512M``, ``1T`` or a bare number of MiB."""
    m = re.match(r"^(\d+)\s*([kmgt]?)i?b?$", text.strip(), re.IGNORECASE)
    if not m:
        raise click.BadParameter(f"cannot read {text!r} as memory (e.g. 16G)")
    value, unit = int(m.group(1)), m.group(2).lower()
    factor = {"k": 1 / 1024, "": 1, "m": 1, "g": 1024, "t": 1024 * 1024}[unit]
    return max(1, int(value * factor))


def hours(seconds: float | int) -> str:
    return f"{seconds / 3600:,.2f}"


class Client:
    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(
            base_url=f"{self.url}/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT,
        )

    @classmethod
    def from_config(cls) -> Client:
        stored: dict[str, str] = {}
        path = config_path()
        if path.exists():
            try:
                stored = json.loads(path.read_text())
            except (OSError, ValueError):
                fail(f"cannot read {path}; run `ailab login --url URL` again")
        url = os.environ.get("AILAB_URL") or stored.get("url")
        token = os.environ.get("AILAB_TOKEN") or stored.get("token")
        if not url or not token:
            fail("not logged in: run `ailab login --url URL` (or set AILAB_URL and AILAB_TOKEN)")
        return cls(url, token)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            fail(f"cannot reach {self.url}: {exc}")
        if response.status_code >= 400:
            try:
                body = response.json()
                message = body.get("message") or body.get("detail") or response.text
            except ValueError:
                message = response.text.strip()[:200] or response.reason_phrase
            fail(f"{message} (HTTP {response.status_code})")
        if response.status_code == 204:
            return None
        return response.json()


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*[("" if v is None else str(v)) for v in row])
    Console().print(table)


# login ---------------------------------------------------------------------


@click.command()
@click.option("--url", required=True, help="The lab server, e.g. https://lab.example.org")
@click.option("--token", default=None, help="An API token (asked for if left out).")
def login(url: str, token: str | None) -> None:
    """Check a token against the server and store it (mode 0600) for the other commands."""
    token = token or click.prompt("API token", hide_input=True)
    me = Client(url, token).call("GET", "/me")
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"url": url.rstrip("/"), "token": token}, fh)
    os.chmod(path, 0o600)
    click.echo(f"logged in to {url} as {me['email']} (token stored in {path})")


# job -----------------------------------------------------------------------


@click.group()
def job() -> None:
    """Submit, list, show, tail and cancel jobs."""


@job.command("submit", context_settings={"ignore_unknown_options": True})
@click.option("--allocation", "-A", required=True, help="The allocation to charge.")
@click.option("--gpus", "-G", default=0, show_default=True, type=int)
@click.option("--time", "-t", "time_limit", required=True, help="Time limit: 2h, 30m, 1:30:00.")
@click.option("--name", "-J", default="", help="A name for the job.")
@click.option("--cpus", "-c", default=1, show_default=True, type=int)
@click.option("--mem", default=None, help="Memory, e.g. 16G.")
@click.option("--workdir", "-D", default="", help="Working directory on the cluster.")
@click.option("--env", "-e", "env", multiple=True, help="KEY=VALUE (repeatable).")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def job_submit(
    allocation: str,
    gpus: int,
    time_limit: str,
    name: str,
    cpus: int,
    mem: str | None,
    workdir: str,
    env: tuple[str, ...],
    command: tuple[str, ...],
) -> None:
    """Submit COMMAND (after --) and print the job id."""
    try:
        limit = parse_duration(time_limit)
    except click.BadParameter as exc:
        fail(f"--time: {exc.message}")
    try:
        memory = parse_memory(mem) if mem else None
    except click.BadParameter as exc:
        fail(f"--mem: {exc.message}")
    variables: dict[str, str] = {}
    for item in env:
        key, sep, value = item.partition("=")
        if not sep:
            fail(f"--env: expected KEY=VALUE, got {item!r}")
        variables[key] = value
    body = {
        "allocation": allocation,
        "command": list(command),
        "gpus": gpus,
        "time_limit_s": limit,
        "name": name,
        "cpus": cpus,
        "memory_mb": memory,
        "workdir": workdir,
        "env": variables,
    }
    created = Client.from_config().call("POST", "/jobs", json=body)
    click.echo(created["id"])


def _gpus(job: dict[str, Any]) -> str:
    if job.get("node"):
        return f"{job['gpus']} ({job['node']}:{','.join(map(str, job['gpu_indices']))})"
    return str(job["gpus"])


@job.command("ls")
@click.option("--all", "all_", is_flag=True, help="Every job you may see, not only yours.")
@click.option("--state", default=None, help="Only jobs in this state.")
@click.option("--json", "as_json", is_flag=True)
def job_ls(all_: bool, state: str | None, as_json: bool) -> None:
    """List jobs (as squeue): yours, or with --all every one you may see."""
    params: dict[str, Any] = {"all": all_}
    if state:
        params["status"] = state
    jobs = Client.from_config().call("GET", "/jobs", params=params)
    if as_json:
        click.echo(json.dumps(jobs, indent=2))
        return
    rows = [
        [
            j["id"],
            j["name"],
            j["user"],
            j["allocation"],
            j["status"],
            _gpus(j),
            hours(j["gpu_seconds"]),
            j["reason"],
        ]
        for j in jobs
    ]
    _table("jobs", ["ID", "NAME", "USER", "ALLOCATION", "STATE", "GPUS", "GPU-H", "REASON"], rows)


@job.command("show")
@click.argument("job_id", type=int)
def job_show(job_id: int) -> None:
    """Everything about one job."""
    data = Client.from_config().call("GET", f"/jobs/{job_id}")
    for key, value in data.items():
        click.echo(f"{key:>14}: {' '.join(value) if key == 'command' else value}")


@job.command("logs")
@click.argument("job_id", type=int)
@click.option("--follow", "-f", is_flag=True, help="Keep printing until the job ends.")
@click.option("--stderr", is_flag=True, help="The error stream instead of stdout.")
@click.option("--interval", default=1.0, show_default=True, hidden=True)
def job_logs(job_id: int, follow: bool, stderr: bool, interval: float) -> None:
    """Print a job's output (stdout; --stderr for the other stream)."""
    client = Client.from_config()
    name = "stderr" if stderr else "stdout"
    offset = 0
    while True:
        part = client.call("GET", f"/jobs/{job_id}/logs", params={"stream": name, "offset": offset})
        if part["data"]:
            click.echo(part["data"], nl=False)
        offset = part["next_offset"]
        if not follow or (part["finished"] and not part["data"]):
            break
        if not part["data"]:
            time.sleep(interval)


@job.command("cancel")
@click.argument("job_ids", type=int, nargs=-1, required=True)
def job_cancel(job_ids: tuple[int, ...]) -> None:
    """Cancel jobs (as scancel): idempotent."""
    client = Client.from_config()
    for job_id in job_ids:
        data = client.call("POST", f"/jobs/{job_id}/cancel")
        click.echo(f"{job_id}: {data['status']} {data['reason']}".rstrip())


# alloc, cluster ---------------------------------------------------------------


@click.group()
def alloc() -> None:
    """Your allocations and their balances."""


@alloc.command("ls")
@click.option("--all", "all_", is_flag=True, help="Lab staff: every allocation.")
def alloc_ls(all_: bool) -> None:
    """List allocations with budget, used and left in GPU-hours."""
    rows = Client.from_config().call("GET", "/allocations", params={"all": all_})
    _table(
        "allocations",
        ["NAME", "ACCOUNT", "ORGANISATION", "STATE", "BUDGET GPU-H", "USED", "LEFT", "ENDS"],
        [
            [
                a["name"],
                a["account"],
                a["organisation"],
                a["state"],
                hours(a["budget_gpu_seconds"]),
                hours(a["used_gpu_seconds"]),
                hours(a["balance_gpu_seconds"]),
                a["ends_on"],
            ]
            for a in rows
        ],
    )


@click.group()
def cluster() -> None:
    """The cluster: nodes, GPUs, running jobs and the queue."""


@cluster.command("status")
def cluster_status() -> None:
    """Nodes x GPUs (who holds each), running jobs and the queue with reasons."""
    for c in Client.from_config().call("GET", "/cluster"):
        rows = []
        for node in c["nodes"]:
            cells = [f"{g['index']}:{g['job_id'] or '-'}" for g in node["gpus"]]
            rows.append(
                [node["name"], node["gpu_model"], f"{node['free']}/{len(cells)}", " ".join(cells)]
            )
        _table(f"cluster {c['name']} ({c['backend']})", ["NODE", "MODEL", "FREE", "GPU:JOB"], rows)
        if not c.get("isolated", True):
            click.echo(
                "note: jobs on this cluster are NOT isolated from each other (single-user "
                "mode: they all run as the server's Unix user)",
                err=True,
            )
        queue = [
            [j["id"], j["user"], j["allocation"], j["status"], _gpus(j), j["reason"]]
            for j in c["running"] + c["queue"]
        ]
        _table("jobs", ["ID", "USER", "ALLOCATION", "STATE", "GPUS", "REASON"], queue)
