"""Factories for tests: build real objects through the services where it matters."""

from __future__ import annotations

import itertools
from typing import Any

from caredesk.accounts.models import Role, Team, Tier, User
from caredesk.customers.models import Customer, Organization
from caredesk.customers.services import create_customer
from caredesk.tickets.models import Ticket
from caredesk.tickets.services import Actor, create_ticket

_seq = itertools.count(1)

PASSWORD = "correct horse battery staple"


def team(name: str | None = None, **fields: Any) -> Team:
    name = name or f"Team {next(_seq)}"
    slug = name.lower().replace(" ", "-")
    obj, _ = Team.objects.get_or_create(slug=slug, defaults={"name": name, **fields})
    return obj


def agent(
    *,
    email: str | None = None,
    name: str = "",
    role: str = Role.AGENT,
    tier: str = Tier.MID,
    teams: list[Team] | None = None,
    **fields: Any,
) -> User:
    n = next(_seq)
    user = User.objects.create_user(
        email=email or f"agent{n}@example.test",
        password=PASSWORD,
        name=name or f"Agent {n}",
        role=role,
        tier=tier,
        is_staff=role == Role.ADMIN,
        is_superuser=role == Role.ADMIN,
        **fields,
    )
    if teams:
        user.teams.set(teams)
    return user


def organization(name: str | None = None, **fields: Any) -> Organization:
    return Organization.objects.create(name=name or f"Org {next(_seq)}", **fields)


def customer(*, email: str | None = None, name: str = "", **fields: Any) -> Customer:
    n = next(_seq)
    return create_customer(
        name=name or f"Customer {n}",
        email=email if email is not None else f"customer{n}@example.test",
        **fields,
    )


def ticket(
    *,
    requester: Customer | None = None,
    subject: str = "",
    body: str = "Hello, I need help.",
    actor: Any = None,
    **fields: Any,
) -> Ticket:
    requester = requester or customer()
    return create_ticket(
        actor or Actor.of_customer(requester),
        subject=subject or f"Help needed {next(_seq)}",
        requester=requester,
        body_text=body,
        **fields,
    )
