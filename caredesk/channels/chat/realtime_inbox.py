"""Live workspace: every committed ticket change is pushed to the agents who may see the ticket
(its team, its assignee, the admins), so inboxes and ticket pages update without a reload."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from caredesk.core.events import TicketChange
from caredesk.core.prepared import PreparedQuery
from caredesk.core.realtime import send_batch
from caredesk.tickets.models import Channel, EventKind, Ticket

CHAT_LIVE_KINDS = {EventKind.MESSAGE_ADDED, EventKind.CC_ADDED}
# Tickets read per query when a bulk change is announced (under SQLite's parameter limit).
BULK_READ = 500
AUDIENCE_FIELDS = ("team_id", "assignee_id", "restricted", "channel")
# Asked after every ticket change: the ORM writes the query once per process.
_AUDIENCE = PreparedQuery(
    lambda ticket_id: (
        Ticket.objects.filter(pk=ticket_id).order_by().values_list(*AUDIENCE_FIELDS)[:1]
    ),
    ticket_id=-7_000_002,
)


def _message(
    ticket_id: int, kinds: list[str], row: Mapping[str, Any]
) -> tuple[list[str], dict[str, Any]]:
    """The groups to tell about the change and what to tell them."""
    payload = {"type": "ticket.changed", "ticket": ticket_id, "kinds": sorted(set(kinds))}
    if row["channel"] == Channel.CHAT and set(kinds) <= CHAT_LIVE_KINDS:
        # Live chat lines reach the agents in the chat itself; inboxes need not refresh for each.
        return [f"ticket.{ticket_id}"], payload
    groups = {"admins", f"ticket.{ticket_id}"}
    if row["team_id"] and not row["restricted"]:
        groups.add(f"team.{row['team_id']}")
    elif not row["team_id"] and not row["restricted"]:
        groups.add("unrouted")
    if row["assignee_id"]:
        groups.add(f"agent.{row['assignee_id']}")
    return sorted(groups), payload


def on_ticket_changed(
    sender: Any,
    ticket_id: int,
    event_ids: list[int],
    kinds: list[str],
    in_bulk: bool = False,
    **_: Any,
) -> None:
    if in_bulk:  # told once for all the tickets, by on_tickets_changed
        return
    found = _AUDIENCE.first(ticket_id=ticket_id)
    if found is not None:
        send_batch([_message(ticket_id, kinds, dict(zip(AUDIENCE_FIELDS, found, strict=True)))])


def on_tickets_changed(sender: Any, changes: list[TicketChange], **_: Any) -> None:
    """A bulk change: the tickets are read in a few queries and pushed in one trip. Chat lines
    (announced with their channel) only tell the ticket's own group and need no read."""
    lines: list[TicketChange] = []
    others: list[TicketChange] = []
    for change in changes:
        chat_line = change.channel == Channel.CHAT and set(change.kinds) <= CHAT_LIVE_KINDS
        (lines if chat_line else others).append(change)
    if lines:
        send_batch(
            [
                _message(change.ticket_id, change.kinds, {"channel": Channel.CHAT})
                for change in lines
            ]
        )
    changes = others
    if not changes:
        return
    ids = [change.ticket_id for change in changes]
    rows: dict[int, Mapping[str, Any]] = {}
    for start in range(0, len(ids), BULK_READ):
        for row in Ticket.objects.filter(pk__in=ids[start : start + BULK_READ]).values(
            "id", "team_id", "assignee_id", "restricted", "channel"
        ):
            rows[row["id"]] = row
    send_batch(
        [
            _message(change.ticket_id, change.kinds, rows[change.ticket_id])
            for change in changes
            if change.ticket_id in rows
        ]
    )
