"""Announcing committed changes.

Services call `announce_on_commit` (one ticket) or `announce_many_on_commit` (a bulk change such as
the routing pass); receivers (realtime push, automation, SLA clocks, webhooks) connect to
`ticket_changed`, and those that can handle many tickets at once also to `tickets_changed`.
Nothing is announced for a transaction that rolls back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.dispatch import Signal

# Sent after commit with: ticket_id, event_ids, kinds (list of event kinds) and, from ticket
# services, public_message_ids (public messages the change added). For a bulk change it is also
# sent per ticket with in_bulk=True, after `tickets_changed`: receivers connected to both return
# at once when in_bulk is set; the others see every ticket as usual.
ticket_changed = Signal()

# Sent after commit, once per bulk change, with: changes (a list of TicketChange).
tickets_changed = Signal()


@dataclass(frozen=True)
class TicketChange:
    """What one ticket went through in a bulk change."""

    ticket_id: int
    event_ids: list[int]
    kinds: list[str]
    # Each event's data, in the order of event_ids, when the announcer has it at hand (receivers
    # then need not read the events).
    data: list[dict[str, Any]] | None = None
    # The ticket's channel, when the announcer knows it: passed on to the per-ticket
    # `ticket_changed` as `channel`, so receivers for other channels return without a look-up.
    channel: str | None = None


def announce_on_commit(
    ticket_id: int, event_ids: list[int], kinds: list[str], **extra: Any
) -> None:
    def send() -> None:
        ticket_changed.send(
            sender=None, ticket_id=ticket_id, event_ids=event_ids, kinds=kinds, **extra
        )

    transaction.on_commit(send)


def announce_many_on_commit(changes: list[TicketChange]) -> None:
    """Announce a bulk change once: receivers of `tickets_changed` do set-based work over all the
    tickets (one query for all of them instead of one per ticket)."""
    if not changes:
        return

    def send() -> None:
        tickets_changed.send(sender=None, changes=changes)
        for change in changes:
            ticket_changed.send(
                sender=None,
                ticket_id=change.ticket_id,
                event_ids=change.event_ids,
                kinds=change.kinds,
                in_bulk=True,
                **({"channel": change.channel} if change.channel else {}),
            )

    transaction.on_commit(send)
