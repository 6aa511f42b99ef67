"""``ailab slurm``: keep Slurm's accounts in step with allocations, and import accounting.

ailab slurm sync         make Slurm's accounts match the allocations (idempotent)
ailab slurm check        report drift between ailab and sacctmgr; exit 1 if any
ailab slurm import       adopt existing Slurm accounts under the lab root as allocations
ailab slurm accounting   charge finished jobs' GPU-seconds from sacct, once each
"""

from __future__ import annotations

import datetime as dt
import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import click

from ailab.cli.lab import setup_django

if TYPE_CHECKING:
    from ailab.compute.models import Cluster

_cluster = click.option(
    "--cluster", "cluster_name", default=None, help="One Slurm cluster (default: all)."
)


def _clusters(name: str | None) -> list[Cluster]:
    from ailab.common.errors import DomainError
    from ailab.compute.slurm_sync import slurm_clusters

    try:
        clusters = slurm_clusters(name)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from exc
    if not clusters:
        raise click.ClickException(
            "no cluster runs on Slurm: set AILAB_BACKEND=slurm (and AILAB_CLUSTER, "
            "AILAB_SLURM_CLUSTER) or give a cluster backend=slurm"
        )
    return clusters


P = ParamSpec("P")
R = TypeVar("R")


def _backend_errors(func: Callable[P, R]) -> Callable[P, R]:
    """A failing Slurm command ends the command with its message, not a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from ailab.execution.base import BackendError

        try:
            return func(*args, **kwargs)
        except BackendError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


@click.group()
def slurm() -> None:
    """Sync allocations with Slurm, check drift, import accounts and accounting."""


@slurm.command()
@_cluster
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@_backend_errors
def sync(cluster_name: str | None, dry_run: bool) -> None:
    """Make each Slurm account match its allocation; prints every change, then the count."""
    setup_django()
    from ailab.compute.slurm_sync import slurm_check, slurm_sync

    for cluster in _clusters(cluster_name):
        report = slurm_check(cluster=cluster) if dry_run else slurm_sync(cluster=cluster)
        for change in report.changes:
            click.echo(f"{cluster.name}: {change}")
        for change in report.unmanaged:
            click.echo(f"{cluster.name}: left alone: {change}")
        for skipped in report.skipped:
            click.echo(f"{cluster.name}: skipped {skipped}")
        verb = "to make" if dry_run else "made"
        click.echo(f"{cluster.name}: {len(report.changes)} changes {verb}")


@slurm.command()
@_cluster
@_backend_errors
def check(cluster_name: str | None) -> None:
    """Report drift between allocations and sacctmgr; changes nothing; exit 1 on drift."""
    setup_django()
    from ailab.compute.slurm_sync import slurm_check

    drift = False
    for cluster in _clusters(cluster_name):
        report = slurm_check(cluster=cluster)
        for change in [*report.changes, *report.unmanaged]:
            click.echo(f"{cluster.name}: drift: {change}")
        for skipped in report.skipped:  # not drift: Slurm matches what ailab can map
            click.echo(f"{cluster.name}: skipped {skipped}")
        drift |= report.drift
        n = len(report.changes) + len(report.unmanaged)
        click.echo(f"{cluster.name}: {'in step with ailab' if not n else f'{n} differences'}")
    sys.exit(1 if drift else 0)


@slurm.command(name="import")
@_cluster
@click.option("--actor", "actor_email", default=None, help="Lab staff email (default: first).")
@click.option("--gpu-hours", default=1000, show_default=True, help="Budget without GrpTRESMins.")
@click.option("--days", default=365, show_default=True, help="How long adopted allocations run.")
@click.option("--user-domain", default="", help="Email domain for users new to ailab.")
@_backend_errors
def import_(
    cluster_name: str | None, actor_email: str | None, gpu_hours: int, days: int, user_domain: str
) -> None:
    """Adopt the Slurm accounts under the lab root as allocations (users -> members).

    Slurm users map to ailab users through their POSIX accounts; a Slurm user no ailab user
    has becomes a new user with that POSIX account (uid from this machine)."""
    setup_django()
    from ailab.accounts.models import User
    from ailab.common.errors import DomainError
    from ailab.compute.slurm_sync import slurm_import

    staff = User.objects.filter(is_staff=True, is_active=True).order_by("pk")
    actor = staff.filter(email__iexact=actor_email).first() if actor_email else staff.first()
    if actor is None:
        raise click.ClickException("no lab staff user to act as (create one, or give --actor)")
    for cluster in _clusters(cluster_name):
        try:
            report = slurm_import(
                actor=actor,
                cluster=cluster,
                default_gpu_hours=gpu_hours,
                days=days,
                user_domain=user_domain,
            )
        except DomainError as exc:
            raise click.ClickException(str(exc)) from exc
        for name in report.allocations:
            click.echo(f"{cluster.name}: adopted account {name} as an allocation")
        for member in report.members:
            click.echo(f"{cluster.name}: member {member}")
        for skipped in report.skipped:
            click.echo(f"{cluster.name}: skipped {skipped}")
        click.echo(
            f"{cluster.name}: {len(report.allocations)} allocations, "
            f"{len(report.members)} members imported"
        )


@slurm.command()
@_cluster
@click.option("--hours", default=48, show_default=True, help="Jobs that ended this recently.")
@_backend_errors
def accounting(cluster_name: str | None, hours: int) -> None:
    """Charge finished Slurm jobs' GPU-seconds to their allocations, once each."""
    setup_django()
    from django.utils import timezone

    from ailab.compute.slurm_accounting import slurm_accounting_import

    since = timezone.now() - dt.timedelta(hours=hours)
    for cluster in _clusters(cluster_name):
        report = slurm_accounting_import(cluster=cluster, since=since)
        unknown = ", ".join(f"{a or '-'} ({n})" for a, n in sorted(report.unknown_accounts.items()))
        click.echo(
            f"{cluster.name}: {report.seen} finished jobs, {report.charged} charged "
            f"({report.gpu_seconds} GPU-seconds), {report.already} charged before"
            + (f", {report.unrecorded} left to the loop" if report.unrecorded else "")
            + (f"; accounts not in ailab: {unknown}" if unknown else "")
        )
