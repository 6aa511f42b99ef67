"""Factories shared by the fund and programmes tests (plain functions over the ORM/services)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from ailab.accounts.models import Membership, Organisation, OrganisationKind, Role, User
from ailab.fund import services as fund_services
from ailab.fund.models import Fund

_seq = itertools.count(1)


def user(email: str | None = None, *, staff: bool = False) -> User:
    email = email or f"user{next(_seq)}@example.com"
    return User.objects.create_user(email=email, password="pw", is_staff=staff)


def organisation(
    name: str | None = None, kind: str = OrganisationKind.STARTUP, founded: dt.date | None = None
) -> Organisation:
    name = name or f"Org {next(_seq)}"
    return Organisation.objects.create(
        name=name,
        slug=name.lower().replace(" ", "-"),
        kind=kind,
        founded=founded or dt.date(2023, 1, 1),
    )


def member(u: User, org: Organisation, role: str = Role.MEMBER) -> Membership:
    return Membership.objects.create(user=u, organisation=org, role=role)


def founder(org: Organisation, email: str | None = None) -> User:
    u = user(email)
    member(u, org, Role.FOUNDER)
    return u


def fund(
    staff: User,
    committed: str = "1000000",
    *,
    name: str | None = None,
    on: dt.date = dt.date(2024, 1, 1),
    lp: Organisation | None = None,
) -> Fund:
    return fund_services.fund_create(
        actor=staff,
        name=name or f"Fund {next(_seq)}",
        currency="USD",
        committed_capital=Decimal(committed),
        committed_on=on,
        counterparty=lp,
    )
