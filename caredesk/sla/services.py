"""SLA clocks: pick the policy, set first-response / next-response / resolution targets in
business time, pause them in the configured statuses, warn before and record breaches after."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from caredesk.core import jobs
from caredesk.core.prepared import PreparedInQuery, PreparedQuery
from caredesk.sla.hours import Hours, add_business_minutes, business_minutes_between
from caredesk.sla.models import BusinessHours, SlaPolicy, TicketSla
from caredesk.tickets.changes import TicketChange
from caredesk.tickets.models import (
    ACTIVE_STATUSES,
    AuthorKind,
    EventKind,
    Priority,
    Status,
    Ticket,
)
from caredesk.tickets.services import Actor, record_event

logger = logging.getLogger("caredesk.sla")
CONDITION_KEYS = {"priority", "channel", "tags", "organization", "vip", "team"}
TARGETS = ("first_response_due", "next_response_due", "resolution_due")
# The events that can move a clock; the others (assignment, notes, followers...) never do.
CLOCK_EVENTS = {
    EventKind.CREATED,
    EventKind.MESSAGE_ADDED,
    EventKind.STATUS_CHANGED,
    EventKind.PRIORITY_CHANGED,
    EventKind.TAGS_CHANGED,
}

# The events that can start a clock on a ticket that has none running.
CLOCK_STARTERS = {EventKind.CREATED, EventKind.PRIORITY_CHANGED, EventKind.TAGS_CHANGED}


def validate_conditions(conditions: dict[str, Any]) -> None:
    from caredesk.core.errors import ValidationFailed

    unknown = set(conditions) - CONDITION_KEYS
    if unknown:
        raise ValidationFailed(
            f"Unknown SLA condition(s): {', '.join(sorted(unknown))}.", code="unknown_condition"
        )
    for name in CONDITION_KEYS - {"vip"}:
        if name in conditions and not isinstance(conditions[name], list):
            raise ValidationFailed(
                f'The {name} condition is a list, e.g. "{name}": [...].', code="bad_condition"
            )
    if "vip" in conditions and not isinstance(conditions["vip"], bool):
        raise ValidationFailed("The vip condition is true or false.", code="bad_condition")
    for name in ("priority",):
        for value in conditions.get(name, []):
            if value not in {label for _, label in Priority.choices}:
                raise ValidationFailed(f"Unknown priority {value!r}.", code="bad_condition")


def validate_policy(policy: SlaPolicy) -> None:
    from caredesk.core.errors import ValidationFailed

    if not isinstance(policy.conditions or {}, dict):
        raise ValidationFailed(
            'Conditions are an object, e.g. {"priority": ["urgent"], "vip": true}.',
            code="bad_condition",
        )
    validate_conditions(policy.conditions or {})
    if not (
        policy.first_response_minutes or policy.next_response_minutes or policy.resolution_minutes
    ):
        raise ValidationFailed(
            "Set at least one target: first response, next response or resolution.",
            code="no_targets",
        )
    unknown = set(policy.pause_statuses or []) - set(Status.values)
    if not isinstance(policy.pause_statuses or [], list) or unknown:
        raise ValidationFailed(
            f"Pause statuses must be ticket statuses ({', '.join(Status.values)}).",
            code="bad_status",
        )


def save_policy(policy: SlaPolicy) -> SlaPolicy:
    validate_policy(policy)
    policy.save()
    # Open tickets are re-clocked by a job (there may be many), after this commit.
    jobs.enqueue("sla.apply_policies")
    return policy


def matches(policy: SlaPolicy, ticket: Ticket, tags: set[str]) -> bool:
    c = policy.conditions or {}
    if c.get("priority") and ticket.priority_name not in c["priority"]:
        return False
    if c.get("channel") and ticket.channel not in c["channel"]:
        return False
    if c.get("tags") and not tags & set(c["tags"]):
        return False
    if c.get("organization") and ticket.organization_id not in c["organization"]:
        return False
    if c.get("team") and ticket.team_id not in c["team"]:
        return False
    return not ("vip" in c and bool(ticket.requester.vip) != bool(c["vip"]))


def policy_for(ticket: Ticket) -> SlaPolicy | None:
    policies = list(SlaPolicy.objects.filter(active=True))
    if not policies:  # many installs have none: then the tags need no look-up
        return None
    tags = set(ticket.tags.values_list("name", flat=True))
    for policy in policies:
        if matches(policy, ticket, tags):
            return policy
    return None


def hours_for(policy: SlaPolicy, ticket: Ticket) -> Hours:
    if policy.business_hours_id:
        return Hours.of(policy.business_hours)
    team_hours = (
        BusinessHours.objects.filter(team_id=ticket.team_id).first() if ticket.team_id else None
    )
    return Hours.of(team_hours)


def _refresh_next_due(sla: TicketSla) -> None:
    dues = [getattr(sla, f) for f in TARGETS if getattr(sla, f) is not None]
    sla.next_due = min(dues) if dues and sla.paused_since is None else None


@transaction.atomic
def start(
    ticket: Ticket, now: datetime | None = None, *, since: datetime | None = None
) -> TicketSla | None:
    """(Re)start the ticket's clocks under the policy that matches it now. The targets run from
    `since` (default: now); a ticket already in one of the policy's pause statuses starts
    paused, and a solved or closed one gets no targets."""
    now = now or timezone.now()
    since = since or now
    ticket = Ticket.objects.select_related("requester").get(pk=ticket.pk)
    policy = policy_for(ticket)
    if policy is None:
        TicketSla.objects.filter(ticket=ticket).delete()
        return None
    hours = hours_for(policy, ticket)
    sla, _ = TicketSla.objects.get_or_create(ticket=ticket)
    sla.policy = policy
    done = ticket.status in (Status.SOLVED, Status.CLOSED)
    sla.first_response_due = (
        add_business_minutes(since, policy.first_response_minutes, hours)
        if policy.first_response_minutes and ticket.first_response_at is None and not done
        else None
    )
    sla.resolution_due = (
        add_business_minutes(since, policy.resolution_minutes, hours)
        if policy.resolution_minutes and not done
        else None
    )
    # Answered once, and the customer wrote since the last answer: a reply is owed.
    asked = ticket.last_customer_message_at
    waiting = (
        ticket.first_response_at is not None
        and asked is not None
        and (ticket.last_agent_message_at is None or asked > ticket.last_agent_message_at)
    )
    sla.next_response_due = (
        add_business_minutes(max(since, asked), policy.next_response_minutes, hours)
        if policy.next_response_minutes and waiting and asked is not None and not done
        else None
    )
    sla.paused_since = now if ticket.status in (policy.pause_statuses or []) else None
    _refresh_next_due(sla)
    sla.save()
    return sla


# Open tickets re-clocked per query when policies change.
APPLY_CHUNK = 200


def apply_policies(now: datetime | None = None) -> int:
    """Give every ticket still being worked the clocks of the policy that matches it now,
    measured from when the ticket was opened (what its customer has waited): run after a policy
    is created or changed, so existing tickets are held to it, not only new ones. Returns how
    many tickets have a clock afterwards."""
    now = now or timezone.now()
    clocked = 0
    last_id = 0
    while True:
        chunk = list(
            Ticket.objects.filter(status__in=ACTIVE_STATUSES, pk__gt=last_id)
            .order_by("pk")
            .only("pk", "created_at")[:APPLY_CHUNK]
        )
        if not chunk:
            return clocked
        for ticket in chunk:
            if start(ticket, now, since=ticket.created_at) is not None:
                clocked += 1
        last_id = chunk[-1].pk


@jobs.job_handler("sla.apply_policies")
def _apply_policies_job(payload: dict[str, Any]) -> None:
    apply_policies()


@cache
def _running_clock_sql(vendor: str) -> str:
    sql, params = (
        TicketSla.objects.filter(ticket_id=0, policy__isnull=False)
        .order_by()
        .values("pk")[:1]
        .query.sql_with_params()
    )
    assert list(params) == [0], params  # the ticket id is the only parameter
    return sql


# Asked for every new ticket: the ORM writes the query once per process.
_ANY_ACTIVE_POLICY = PreparedQuery(
    lambda: SlaPolicy.objects.filter(active=True).order_by().values_list("pk")[:1]
)


def _has_running_clock(ticket_id: int) -> bool:
    """Whether the ticket has a clock with a policy. Asked on every ticket event, and the answer
    is mostly no: the ORM writes the query once per process, then it only runs."""
    with connection.cursor() as cursor:
        cursor.execute(_running_clock_sql(connection.vendor), [ticket_id])
        return cursor.fetchone() is not None


def on_event(
    ticket_id: int, kinds: list[str], data: list[dict[str, Any]], now: datetime | None = None
) -> None:
    """Move the clocks for what just happened on the ticket (its events' kinds and data)."""
    if not CLOCK_EVENTS & set(kinds):
        return
    now = now or timezone.now()
    if EventKind.CREATED in kinds:
        # A new ticket has no clock to clear: when no policy applies, `start` and its write
        # transaction (the database's writer lock, on SQLite) are not needed, and when there is
        # no active policy at all, neither is the ticket.
        if _ANY_ACTIVE_POLICY.first() is None:
            return
        created = Ticket.objects.select_related("requester").filter(pk=ticket_id).first()
        if created is not None and policy_for(created) is not None:
            start(created, now)
        return
    has_clock = _has_running_clock(ticket_id)
    sla = (
        TicketSla.objects.select_related("policy", "ticket__requester")
        .filter(ticket_id=ticket_id)
        .first()
        if has_clock
        else None
    )
    if sla is None or sla.policy is None:
        if {EventKind.PRIORITY_CHANGED, EventKind.TAGS_CHANGED} & set(kinds):
            ticket = Ticket.objects.select_related("requester").filter(pk=ticket_id).first()
            if ticket is not None and policy_for(ticket) is not None:
                start(ticket, now)
        return
    ticket = sla.ticket
    policy = sla.policy
    hours = hours_for(policy, ticket)
    for kind, event_data in zip(kinds, data, strict=True):
        if kind == EventKind.MESSAGE_ADDED and not event_data.get("internal"):
            if event_data.get("author_kind") == AuthorKind.AGENT:
                sla.first_response_due = None
                sla.next_response_due = None
            elif (
                event_data.get("author_kind") == AuthorKind.CUSTOMER
                and ticket.first_response_at
                and policy.next_response_minutes
            ):
                sla.next_response_due = add_business_minutes(
                    now, policy.next_response_minutes, hours
                )
        if kind == EventKind.STATUS_CHANGED:
            new = event_data.get("new")
            if new in (Status.SOLVED, Status.CLOSED):
                sla.first_response_due = sla.next_response_due = sla.resolution_due = None
            elif new in (policy.pause_statuses or []) and sla.paused_since is None:
                sla.paused_since = now
            elif new not in (policy.pause_statuses or []) and sla.paused_since is not None:
                # Resume: what was left of each target when the clock stopped is still left now.
                for target in TARGETS:
                    due = getattr(sla, target)
                    if due is not None:
                        left = (
                            business_minutes_between(sla.paused_since, due, hours)
                            if due > sla.paused_since
                            else 0
                        )
                        setattr(sla, target, add_business_minutes(now, left, hours))
                sla.paused_since = None
            if (
                event_data.get("old") == Status.SOLVED
                and new == Status.OPEN
                and policy.resolution_minutes
            ):
                sla.resolution_due = add_business_minutes(now, policy.resolution_minutes, hours)
        if (
            kind in (EventKind.PRIORITY_CHANGED, EventKind.TAGS_CHANGED)
            and policy_for(ticket) != policy
        ):
            start(ticket, now)
            return
    _refresh_next_due(sla)
    sla.save()


def _status_moves_clock(data: dict[str, Any], pause_statuses: list[str], paused: bool) -> bool:
    """Whether on_event would change a running clock for this status change (the same tests)."""
    new, old = data.get("new"), data.get("old")
    return (
        new in (Status.SOLVED, Status.CLOSED)
        or (new in pause_statuses and not paused)
        or (new not in pause_statuses and paused)
        or (old == Status.SOLVED and new == Status.OPEN)
    )


# Tickets read per query for a bulk change (under SQLite's parameter limit).
BULK_READ = 500


# The clocks of a bulk change's tickets, SQL built once per process.
_RUNNING_CLOCKS = PreparedInQuery(
    lambda ticket_ids: (
        TicketSla.objects.filter(ticket_id__in=ticket_ids, policy__isnull=False)
        .order_by()
        .values_list("ticket_id", "paused_since", "policy__pause_statuses")
    ),
    "ticket_ids",
    ticket_ids=-7_000_011,
)


def on_events(changes: list[TicketChange], now: datetime | None = None) -> None:
    """Move the clocks for a bulk change (the routing pass): which tickets have a running clock,
    and what their status changes were, are read for all of them at once; `on_event` runs only
    for the tickets whose clocks the change can move (taking a new ticket opens it, which moves
    no clock unless `new` or `open` is a pause status)."""
    relevant = [c for c in changes if CLOCK_EVENTS & set(c.kinds)]
    if any(EventKind.CREATED in c.kinds for c in relevant) and _ANY_ACTIVE_POLICY.first() is None:
        # New tickets (a channel's batch): with no active policy none of them gets a clock; asked
        # once here instead of once per ticket in `on_event`.
        relevant = [c for c in relevant if EventKind.CREATED not in c.kinds]
    if not relevant:
        return
    now = now or timezone.now()
    clocks: dict[int, tuple[list[str], bool]] = {}
    status_events: dict[int, list[dict[str, Any]]] = {}
    ids = [c.ticket_id for c in relevant]
    # Plain rows: the ORM's per-row JSON and datetime conversions of thousands of clocks cost
    # more than the read. The pause statuses come as the driver gives them (JSON text on SQLite,
    # a list on PostgreSQL); the few distinct texts are decoded once.
    decoded: dict[str, list[str]] = {}
    for ticket_id, paused_since, pause_statuses in _RUNNING_CLOCKS.rows(ticket_ids=ids):
        if isinstance(pause_statuses, str):
            if pause_statuses not in decoded:
                decoded[pause_statuses] = json.loads(pause_statuses) or []
            pause_statuses = decoded[pause_statuses]
        clocks[ticket_id] = (pause_statuses or [], paused_since is not None)
    for c in relevant:
        if c.ticket_id in clocks:
            status_events[c.ticket_id] = [
                data
                for kind, data in zip(c.kinds, c.data, strict=True)
                if kind == EventKind.STATUS_CHANGED
            ]
    for change in relevant:
        kinds = CLOCK_EVENTS & set(change.kinds)
        if change.ticket_id not in clocks and not kinds & CLOCK_STARTERS:
            continue  # no running clock to move, and nothing here starts one (as `on_event`)
        if kinds == {EventKind.STATUS_CHANGED}:
            if change.ticket_id not in clocks:
                continue  # no clock to move, and a status change never starts one
            pause_statuses, paused = clocks[change.ticket_id]
            if not any(
                _status_moves_clock(data, pause_statuses, paused)
                for data in status_events.get(change.ticket_id, [])
            ):
                continue
        on_event(change.ticket_id, change.kinds, change.data, now)


def check_clocks(now: datetime | None = None) -> dict[str, int]:
    """Warnings before targets and breach events after them (run every minute by the worker)."""
    now = now or timezone.now()
    counts = {"warned": 0, "breached": 0}
    warn_window = now + timedelta(hours=24)
    for sla in TicketSla.objects.select_related("policy", "ticket").filter(
        next_due__lte=warn_window, ticket__status__in=ACTIVE_STATUSES
    ):
        if sla.policy is None:
            continue
        due = sla.next_due
        if due is None:
            continue
        target = next(f for f in TARGETS if getattr(sla, f) == due)
        if due <= now and target not in sla.breaches:
            with transaction.atomic():
                sla.breaches = [*sla.breaches, target]
                sla.breached = True
                sla.save(update_fields=["breaches", "breached"])
                record_event(
                    sla.ticket,
                    EventKind.SLA,
                    Actor.system("sla"),
                    state="breached",
                    target=target,
                    due=due.isoformat(),
                    policy=sla.policy.name,
                )
            counts["breached"] += 1
        elif (
            due > now
            and not sla.warned
            and due - now <= timedelta(minutes=sla.policy.warn_before_minutes)
        ):
            with transaction.atomic():
                TicketSla.objects.filter(pk=sla.pk).update(warned=True)
                record_event(
                    sla.ticket,
                    EventKind.SLA,
                    Actor.system("sla"),
                    state="warning",
                    target=target,
                    due=due.isoformat(),
                    policy=sla.policy.name,
                )
            counts["warned"] += 1
    return counts


def overdue(qs: QuerySet[Ticket], now: datetime | None = None) -> QuerySet[Ticket]:
    return qs.filter(sla__next_due__lte=now or timezone.now(), status__in=ACTIVE_STATUSES)


def due_soon(
    qs: QuerySet[Ticket], within: timedelta = timedelta(hours=2), now: datetime | None = None
) -> QuerySet[Ticket]:
    now = now or timezone.now()
    return qs.filter(
        sla__next_due__gt=now, sla__next_due__lte=now + within, status__in=ACTIVE_STATUSES
    )


def on_changes(changes: list[TicketChange]) -> None:
    """The change contract's receiver. One ticket's change goes straight to `on_event`, which
    reads only that ticket's clock; the batch form's reads pay off from two tickets on."""
    if len(changes) == 1:
        change = changes[0]
        on_event(change.ticket_id, change.kinds, change.data)
    else:
        on_events(changes)
