"""Who may see a ticket: the one visibility rule, and the helpers every path loads tickets through.

The rule is written once, in `rule()`, as a `Q` over a ticket's own columns and one derived fact
(`followed_by_viewer`). `visible_tickets` filters a queryset by it; `can_see` evaluates the very
same `Q` against one ticket in Python (`holds`), so the list and the single check cannot drift.
Routing, the realtime audience and the inbox's fast views ask the same rule (`Viewer`, `holds`,
`rule(..., follows=False)`); see docs/security.md.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from caredesk.accounts.models import Role, User
from caredesk.core.errors import NotFound
from caredesk.customers.models import Customer
from caredesk.tickets.models import Ticket

# The one fact the rule needs that is not a column of the ticket: does the viewer follow it.
FOLLOWED = "followed_by_viewer"


@dataclass(frozen=True)
class Viewer:
    """What the rule looks at on an agent. Built from a User, or from plain rows (the routing
    floor) without reading the agent again."""

    pk: int
    is_admin: bool
    is_lead: bool
    team_ids: tuple[int, ...]

    @classmethod
    def of(cls, agent: User | Viewer) -> Viewer:
        if isinstance(agent, Viewer):
            return agent
        return cls(
            pk=agent.pk,
            is_admin=agent.is_admin,
            is_lead=agent.is_lead,
            team_ids=tuple(agent.team_ids()),
        )

    @classmethod
    def of_role(cls, pk: int, role: str, team_ids: tuple[int, ...]) -> Viewer:
        """From an agent's id, role and teams read as plain values (the role's meaning is the
        User model's own: `is_admin`, `is_lead`)."""
        is_admin, is_lead = _role_flags(role)
        return cls(pk=pk, is_admin=is_admin, is_lead=is_lead, team_ids=team_ids)


@functools.cache
def _role_flags(role: str) -> tuple[bool, bool]:
    agent = User(role=role)
    return agent.is_admin, agent.is_lead


@functools.lru_cache(maxsize=4096)
def rule(viewer: Viewer, *, follows: bool = True) -> Q | None:
    """The visibility rule for `viewer`, or None when they see everything (admins).

    An agent sees tickets of their teams, unrouted tickets (no team), tickets assigned to them and
    tickets they follow; a restricted ticket only if they are a team lead or its assignee.
    `follows=False` leaves out the followed tickets: a narrower set (never a wider one) for the
    inbox views that are scoped to the agent's teams anyway and need not ask the followers table.
    Cached per viewer (a Viewer is immutable): callers must not modify the returned Q.
    """
    if viewer.is_admin:
        return None
    # Built from its children directly (combining Q objects with | and & copies them each time,
    # and routing asks this for every candidate agent).
    reach = [("team_id__in", viewer.team_ids), ("team_id", None), ("assignee_id", viewer.pk)]
    if follows:
        reach.append((FOLLOWED, True))
    if viewer.is_lead:
        return Q(*reach, _connector=Q.OR)
    unless_restricted = Q(("restricted", False), ("assignee_id", viewer.pk), _connector=Q.OR)
    return Q(Q(*reach, _connector=Q.OR), unless_restricted)


def holds(condition: Q | None, fact: Callable[[str], Any]) -> bool:
    """Evaluate a rule's `Q` in Python; `fact(name)` gives a ticket's value for a field name.

    Only the lookups the rule uses are understood (exact and `in`); anything else raises, so a
    change to the rule that this cannot evaluate fails loudly instead of answering wrongly. The
    children are evaluated lazily, so a costly fact (the followers) is only read when needed.
    """
    if condition is None:
        return True
    if condition.connector not in (Q.AND, Q.OR):
        raise ValueError(f"Unsupported connector {condition.connector!r} in a visibility rule.")
    results = (
        holds(child, fact) if isinstance(child, Q) else _lookup(child, fact)
        for child in condition.children
    )
    held = all(results) if condition.connector == Q.AND else any(results)
    return not held if condition.negated else held


def _lookup(child: Any, fact: Callable[[str], Any]) -> bool:
    key, expected = child
    name, _, operator = key.partition("__")
    actual = fact(name)
    if operator == "":
        return bool(actual == expected)
    if operator == "in":
        return actual in expected
    raise ValueError(f"Unsupported lookup {key!r} in a visibility rule.")


def may_see(
    viewer: Viewer,
    *,
    team_id: int | None,
    assignee_id: int | None,
    restricted: bool,
    followed: Callable[[], bool] | bool = False,
) -> bool:
    """The rule for a ticket known by its values (a row, a routing candidate): no ticket object,
    and no query unless `followed` is a callable that needs one and the rule gets that far."""
    if not callable(followed):
        return _may_see_known(viewer, team_id, assignee_id, bool(restricted), bool(followed))
    return _evaluate(viewer, team_id, assignee_id, bool(restricted), followed)


@functools.lru_cache(maxsize=65_536)
def _may_see_known(
    viewer: Viewer, team_id: int | None, assignee_id: int | None, restricted: bool, followed: bool
) -> bool:
    """`may_see` with every fact known, cached: routing asks it for each candidate agent."""
    return _evaluate(viewer, team_id, assignee_id, restricted, followed)


def _evaluate(
    viewer: Viewer,
    team_id: int | None,
    assignee_id: int | None,
    restricted: bool,
    followed: Callable[[], bool] | bool,
) -> bool:
    values = {"team_id": team_id, "assignee_id": assignee_id, "restricted": restricted}

    def fact(name: str) -> Any:
        if name == FOLLOWED:
            return followed() if callable(followed) else followed
        return values[name]

    return holds(rule(viewer), fact)


def visible_tickets(agent: User | Viewer, *, follows: bool = True) -> QuerySet[Ticket]:
    """Tickets an agent may see (the rule as a queryset filter)."""
    viewer = Viewer.of(agent)
    condition = rule(viewer, follows=follows)
    if condition is None:
        return Ticket.objects.all()
    qs = Ticket.objects.all()
    if follows:
        followed = Ticket.followers.through.objects.filter(
            ticket_id=OuterRef("pk"), user_id=viewer.pk
        )
        qs = qs.alias(**{FOLLOWED: Exists(followed)})
    return qs.filter(condition)


def can_see(agent: User | Viewer, ticket: Ticket) -> bool:
    """Whether the agent may see this ticket (the rule evaluated on the object)."""
    viewer = Viewer.of(agent)
    return may_see(
        viewer,
        team_id=ticket.team_id,
        assignee_id=ticket.assignee_id,
        restricted=ticket.restricted,
        followed=lambda: ticket.followers.filter(pk=viewer.pk).exists(),
    )


def access_ticket(agent: User, ticket_id: int, *, lock: bool = False) -> Ticket:
    """Load a ticket the agent may see, or raise NotFound (never reveal that it exists)."""
    qs = Ticket.objects.select_related("requester", "organization", "team", "assignee")
    if lock:
        qs = qs.select_for_update(of=("self",))
    try:
        ticket = qs.get(pk=ticket_id)
    except (Ticket.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound(f"Ticket {ticket_id} does not exist.") from exc
    if not can_see(agent, ticket):
        raise NotFound(f"Ticket {ticket_id} does not exist.")
    if ticket.restricted:
        from caredesk.compliance.services import audit

        audit(agent, "ticket.restricted_viewed", target=ticket)
    return ticket


# --- customers ------------------------------------------------------------------------------


def customer_tickets(customer: Customer) -> QuerySet[Ticket]:
    """What a customer sees in the portal: their own tickets, plus their organization's if shared."""
    scope = Q(requester=customer) | Q(cc=customer)
    if customer.organization_id and customer.organization and customer.organization.shared_tickets:
        scope |= Q(organization_id=customer.organization_id)
    return Ticket.objects.filter(scope).distinct()


def access_ticket_as_customer(customer: Customer, ticket_id: int) -> Ticket:
    ticket = customer_tickets(customer).filter(pk=ticket_id).first()
    if ticket is None:
        raise NotFound(f"Ticket {ticket_id} does not exist.")
    return ticket


# --- realtime audience ----------------------------------------------------------------------

# Who joins which realtime group (`viewer_groups`), as the least a member of the group is to the
# rule: every member has at least these rights (more teams or a higher role only widen what the
# rule lets one see), so a group may be told about a ticket when its least member may see it.
_NOBODY = 0  # a viewer id no ticket is assigned to


def viewer_groups(viewer: Viewer) -> list[str]:
    """The realtime groups an agent's open workspace joins."""
    groups = [f"agent.{viewer.pk}", "unrouted", *(f"team.{t}" for t in viewer.team_ids)]
    if viewer.is_lead:
        groups += ["leads", *(f"leads.team.{t}" for t in viewer.team_ids)]
    if viewer.is_admin:
        groups.append("admins")
    return groups


@functools.lru_cache(maxsize=16_384)
def ticket_audience(
    *, team_id: int | None, assignee_id: int | None, restricted: bool
) -> tuple[str, ...]:
    """The groups to push a ticket's change to: each group whose least member may see the ticket
    (the rule, evaluated per group), leaving out groups inside another one already told. The
    ticket's followers are not reached through these groups (they see it on its own page).
    Cached: a bulk change (the routing pass) asks it for thousands of tickets alike."""
    least = {
        "unrouted": Viewer.of_role(_NOBODY, Role.AGENT, ()),
        "leads": Viewer.of_role(_NOBODY, Role.LEAD, ()),
        "admins": Viewer.of_role(_NOBODY, Role.ADMIN, ()),
    }
    inside = {"leads": ["unrouted"], "admins": ["unrouted", "leads"]}
    if team_id is not None:
        least[f"team.{team_id}"] = Viewer.of_role(_NOBODY, Role.AGENT, (team_id,))
        least[f"leads.team.{team_id}"] = Viewer.of_role(_NOBODY, Role.LEAD, (team_id,))
        inside[f"leads.team.{team_id}"] = [f"team.{team_id}", "leads"]
    if assignee_id is not None:
        least[f"agent.{assignee_id}"] = Viewer.of_role(assignee_id, Role.AGENT, ())
    told = {
        group
        for group, viewer in least.items()
        if may_see(viewer, team_id=team_id, assignee_id=assignee_id, restricted=restricted)
    }
    return tuple(sorted(g for g in told if not any(outer in told for outer in inside.get(g, ()))))
