"""Live workspace: every committed ticket change is pushed to the agents who may see the ticket
(tickets.access.ticket_audience: its team, its assignee, leads for restricted ones, the admins),
so inboxes and ticket pages update without a reload."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from caredesk.core.prepared import PreparedInQuery
from caredesk.core.realtime import send_batch
from caredesk.tickets.access import ticket_audience
from caredesk.tickets.changes import TicketChange
from caredesk.tickets.models import Channel, EventKind, Ticket

CHAT_LIVE_KINDS = {EventKind.MESSAGE_ADDED, EventKind.CC_ADDED}
AUDIENCE_FIELDS = ("team_id", "assignee_id", "restricted", "channel")
AUDIENCE = frozenset(AUDIENCE_FIELDS)
# Asked for the tickets whose change came without their audience fields, once per batch.
_AUDIENCES = PreparedInQuery(
    lambda ticket_ids: (
        Ticket.objects.filter(pk__in=ticket_ids).order_by().values_list("pk", *AUDIENCE_FIELDS)
    ),
    "ticket_ids",
    ticket_ids=-7_000_004,
)


def _message(
    ticket_id: int, kinds: list[str], row: Mapping[str, Any]
) -> tuple[list[str], dict[str, Any]]:
    """The groups to tell about the change and what to tell them."""
    payload = {"type": "ticket.changed", "ticket": ticket_id, "kinds": sorted(set(kinds))}
    if row["channel"] == Channel.CHAT and set(kinds) <= CHAT_LIVE_KINDS:
        # Live chat lines reach the agents in the chat itself; inboxes need not refresh for each.
        return [f"ticket.{ticket_id}"], payload
    # Who may see the ticket decides who hears of it: the visibility rule, per group.
    groups = ticket_audience(
        team_id=row["team_id"] or None,
        assignee_id=row["assignee_id"] or None,
        restricted=bool(row["restricted"]),
    )
    return sorted([*groups, f"ticket.{ticket_id}"]), payload


def push_changes(changes: list[TicketChange]) -> None:
    """The change contract's receiver for the live workspace: the tickets' audience comes with
    the change when the announcer had it, else is read in a few queries; everything is pushed in
    one trip. Chat lines only tell the ticket's own group and need no read."""
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
    rows: dict[int, Mapping[str, Any]] = {
        change.ticket_id: change.fields
        for change in changes
        if change.fields is not None and AUDIENCE.issubset(change.fields)
    }
    missing = [change.ticket_id for change in changes if change.ticket_id not in rows]
    for ticket_id, *values in _AUDIENCES.rows(ticket_ids=missing):
        rows[ticket_id] = dict(zip(AUDIENCE_FIELDS, values, strict=True))
    send_batch(
        [
            _message(change.ticket_id, change.kinds, rows[change.ticket_id])
            for change in changes
            if change.ticket_id in rows
        ]
    )
