"""``ailab users``: lab-side user administration at the server's console.

ailab users posix set EMAIL USERNAME [--uid N] [--gid N]   assign the Unix account jobs run as
ailab users posix show EMAIL                               show it
"""

from __future__ import annotations

import click

from ailab.cli.lab import setup_django


@click.group()
def users() -> None:
    """Lab-side user administration (Unix accounts)."""


@users.group()
def posix() -> None:
    """The Unix account each user's jobs run as."""


def _user(email: str):  # type: ignore[no-untyped-def]
    from ailab.accounts.models import User

    user = User.objects.filter(email__iexact=email.strip()).first()
    if user is None:
        raise click.ClickException(f"EMAIL: no user with email {email}")
    return user


@posix.command("set")
@click.argument("email")
@click.argument("username")
@click.option("--uid", type=int, default=None, help="Default: this machine's, or the next free.")
@click.option("--gid", type=int, default=None, help="Default: the account's group, or the uid.")
def posix_set(email: str, username: str, uid: int | None, gid: int | None) -> None:
    """Assign EMAIL's Unix account USERNAME (never derived from the email)."""
    setup_django()
    from ailab.accounts.posix import posix_account_set
    from ailab.common.errors import DomainError

    try:
        account = posix_account_set(actor=None, user=_user(email), username=username, uid=uid,
                                    gid=gid)  # fmt: skip
    except DomainError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{email}: Unix account {account.username} (uid {account.uid}, gid {account.gid})")


@posix.command("show")
@click.argument("email")
def posix_show(email: str) -> None:
    """Show EMAIL's Unix account."""
    setup_django()
    from ailab.accounts.posix import posix_account_of

    account = posix_account_of(_user(email))
    if account is None:
        raise click.ClickException(f"{email} has no Unix account yet")
    click.echo(f"{account.username} {account.uid} {account.gid}")
