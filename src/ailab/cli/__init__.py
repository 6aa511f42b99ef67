"""The ``ailab`` command.

Subcommands are loaded lazily from the modules named in ``COMMANDS`` so that
``ailab --help`` and the client commands start fast and need no database.
Any name that is not ours is handed to Django's management commands, so
``ailab migrate`` or ``ailab createsuperuser`` work as with ``manage.py``.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

# name -> (module, attribute, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": ("ailab.cli.lab", "run", "Serve the lab on this machine (web, API and scheduler loop)."),
    "demo": ("ailab.cli.lab", "demo", "Build the demo lab (idempotent)."),
    "worker": ("ailab.cli.lab", "worker", "Run the scheduler loop on its own."),
    "token": ("ailab.cli.lab", "token", "Create or revoke API tokens."),
    "manage": ("ailab.cli.lab", "manage", "Run any Django management command."),
    "sim": ("ailab.cli.sim", "sim", "Replay cluster traces through the scheduling policies."),
    "login": ("ailab.cli.client", "login", "Store an API token for a lab server."),
    "job": ("ailab.cli.client", "job", "Submit, list, show, tail and cancel jobs."),
    "alloc": ("ailab.cli.client", "alloc", "List your allocations and their balances."),
    "cluster": (
        "ailab.cli.client",
        "cluster",
        "Show the cluster: nodes, GPUs, running jobs and queue.",
    ),
    "users": ("ailab.cli.users", "users", "Assign users' Unix accounts (lab side)."),
    "slurm": (
        "ailab.cli.slurm",
        "slurm",
        "Sync allocations with Slurm, check drift, import accounts.",
    ),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attr, _ = entry
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:  # a command whose issue has not landed yet
            if exc.name != module_name:
                raise
            return None
        command: click.Command = getattr(module, attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_) for name, (_, _, help_) in sorted(COMMANDS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)
        formatter.write_paragraph()
        formatter.write_text("Any other command is passed to Django (e.g. `ailab migrate`).")

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else None
        if name and name not in COMMANDS and not name.startswith("-"):
            _django(args)
        return super().resolve_command(ctx, args)


def _django(args: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ailab.config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["ailab", *args])
    sys.exit(0)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ailab")
def main() -> None:
    """ailab: the software that runs a shared AI lab."""
