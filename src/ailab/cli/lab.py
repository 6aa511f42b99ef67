"""Server-side commands: run the lab, build the demo, run the scheduler loop, manage tokens."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import click


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ailab.config.settings")
    from ailab.config.env import ConfigurationError

    try:
        import django

        django.setup()
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc


def _manage(*args: str) -> None:
    from django.core.management import call_command

    call_command(*args)


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def manage(args: tuple[str, ...]) -> None:
    """Run any Django management command (``ailab manage migrate``)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ailab.config.settings")
    from django.core.management import execute_from_command_line

    from ailab.config.env import ConfigurationError

    try:
        execute_from_command_line(["ailab", *args])
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary of the demo lab.")
def demo(as_json: bool) -> None:
    """Build the demo lab through the services (idempotent: a second run changes nothing)."""
    setup_django()
    _manage("migrate", "--no-input", "--verbosity", "0")
    from ailab.demo import demo_build

    if as_json:
        # Progress and any mail printed by the console backend go to stderr, keeping stdout JSON.
        with contextlib.redirect_stdout(sys.stderr):
            summary = demo_build(progress=False)
    else:
        summary = demo_build(progress=True)
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="Web server processes.")
@click.option(
    "--demo",
    is_flag=True,
    help="Build the demo lab (demo users with a published password): for trying ailab only.",
)
@click.option("--no-scheduler", is_flag=True, help="Serve the web only; no scheduler loop.")
def run(host: str, port: int, workers: int, demo: bool, no_scheduler: bool) -> None:
    """Serve the lab: migrate, build the demo if asked (--demo), then the web server
    (gunicorn) and the scheduler loop side by side. Ctrl-C stops both cleanly."""
    setup_django()
    from django.conf import settings

    settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
    _manage("migrate", "--no-input", "--verbosity", "0")
    _manage("collectstatic", "--no-input", "--verbosity", "0")
    if demo:
        from ailab.demo import demo_build

        demo_build(progress=True)
        # The demo's people have Unix accounts assigned (demo1, demo2 ...); in lab mode (as
        # root) the scheduler makes them on this machine when their first job starts.
        os.environ.setdefault("AILAB_LOCAL_CREATE_USERS", "1")
    children: list[subprocess.Popen[bytes]] = []
    bin_dir = os.path.dirname(sys.executable)
    web = [
        os.path.join(bin_dir, "gunicorn"),
        "ailab.config.wsgi:application",
        "--bind", f"{host}:{port}",
        "--workers", str(workers),
        "--threads", "4",
        "--access-logfile", "-",
        "--graceful-timeout", "5",
        # Request limits before Django sees anything: the request line, header count and size.
        "--limit-request-line", "8190",
        "--limit-request-fields", "100",
        "--limit-request-field_size", "8190",
        "--timeout", "120",
    ]  # fmt: skip
    children.append(subprocess.Popen(web))
    if not no_scheduler and _has_scheduler():
        children.append(subprocess.Popen([sys.executable, "-m", "ailab.cli", "worker"]))
    click.echo(f"ailab is serving on http://{host}:{port}/ — Ctrl-C stops it.", err=True)
    _supervise(children)


def _has_scheduler() -> bool:
    try:
        import ailab.compute.loop  # noqa: F401
    except ModuleNotFoundError:
        return False
    return True


def _supervise(children: list[subprocess.Popen[bytes]]) -> None:
    stopping = False

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping and all(c.poll() is None for c in children):
            time.sleep(0.2)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
    failed = [c for c in children if c.returncode not in (0, -signal.SIGTERM, None)]
    if failed and not stopping:
        name = "the web server" if failed[0] is children[0] else "the scheduler loop"
        raise click.ClickException(f"{name} stopped with status {failed[0].returncode}")


@click.command()
@click.option("--once", is_flag=True, help="One scheduler pass, then exit.")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between passes.")
def worker(once: bool, interval: float) -> None:
    """Run the scheduler loop (plan, start, poll, account; safe to run twice: a lease) and
    the background tasks beside it."""
    setup_django()
    try:
        from ailab.compute.loop import run_loop
    except ModuleNotFoundError as exc:
        raise click.ClickException("the compute app is not installed yet") from exc
    from ailab.common.tasks import tasks_beside

    with tasks_beside(once=once):  # background tasks (mail, Slurm sync) beside the loop
        run_loop(once=once, interval=interval)


@click.group()
def token() -> None:
    """Create or revoke API tokens (lab-side, for any user)."""


@token.command("create")
@click.option("--user", "email", required=True, help="The user's email address.")
@click.option("--name", default="cli", show_default=True, help="A name to tell tokens apart.")
def token_create(email: str, name: str) -> None:
    """Create a token for a user and print it once."""
    setup_django()
    from ailab.accounts.models import User
    from ailab.accounts.services import token_create as create
    from ailab.common.errors import DomainError

    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        raise click.ClickException(f"--user: no user with email {email}")
    try:
        issued = create(actor=user, user=user, name=name)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(issued.raw)


@token.command("revoke")
@click.argument("prefix")
def token_revoke(prefix: str) -> None:
    """Revoke every active token that starts with PREFIX."""
    setup_django()
    from django.utils import timezone

    from ailab.accounts.models import APIToken

    if len(prefix) < 8:
        raise click.ClickException("PREFIX: give at least 8 characters of the token")
    n = APIToken.objects.filter(prefix__startswith=prefix[:12], revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    click.echo(f"revoked {n} token(s)")
