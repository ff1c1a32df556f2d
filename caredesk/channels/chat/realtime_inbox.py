"""Live workspace: every committed ticket change is pushed to the agents who may see the ticket
(its team, its assignee, the admins), so inboxes and ticket pages update without a reload."""

from __future__ import annotations

from typing import Any

from caredesk.core.prepared import PreparedQuery
from caredesk.core.realtime import send_now, send_to_groups
from caredesk.tickets.models import Channel, EventKind, Ticket

CHAT_LIVE_KINDS = {EventKind.MESSAGE_ADDED, EventKind.CC_ADDED}
# Asked after every ticket change: the ORM writes the query once per process.
_AUDIENCE = PreparedQuery(
    lambda ticket_id: (
        Ticket.objects.filter(pk=ticket_id)
        .order_by()
        .values_list("team_id", "assignee_id", "restricted", "channel")[:1]
    ),
    ticket_id=-7_000_002,
)


def on_ticket_changed(
    sender: Any, ticket_id: int, event_ids: list[int], kinds: list[str], **_: Any
) -> None:
    found = _AUDIENCE.first(ticket_id=ticket_id)
    if found is None:
        return
    row = dict(zip(("team_id", "assignee_id", "restricted", "channel"), found, strict=True))
    payload = {"type": "ticket.changed", "ticket": ticket_id, "kinds": sorted(set(kinds))}
    if row["channel"] == Channel.CHAT and set(kinds) <= CHAT_LIVE_KINDS:
        # Live chat lines reach the agents in the chat itself; inboxes need not refresh for each.
        send_now(f"ticket.{ticket_id}", payload)
        return
    groups = {"admins", f"ticket.{ticket_id}"}
    if row["team_id"] and not row["restricted"]:
        groups.add(f"team.{row['team_id']}")
    elif not row["team_id"] and not row["restricted"]:
        groups.add("unrouted")
    if row["assignee_id"]:
        groups.add(f"agent.{row['assignee_id']}")
    send_to_groups(sorted(groups), payload)
