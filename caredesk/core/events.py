"""Announcing committed changes.

Services call `announce_on_commit` (one ticket) or `announce_many_on_commit` (a bulk change such as
the routing pass); receivers (realtime push, automation, SLA clocks, webhooks) connect to
`ticket_changed`, and those that can handle many tickets at once also to `tickets_changed`.
Nothing is announced for a transaction that rolls back.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.dispatch import Signal

# Sent after commit with: ticket_id, event_ids, kinds (list of event kinds) and, from ticket
# services, public_message_ids (public messages the change added). Not sent for the tickets of a
# bulk change: every receiver of it also takes `tickets_changed` (with `each_ticket` when it has
# nothing to gain from set-based work). Sending it per ticket as well cost a dispatch to every
# receiver for each of the thousands of tickets of a routing pass, a tenth of the pass.
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
    # The ticket's fields after the change, those the announcer has at hand (team_id,
    # assignee_id, restricted, channel), so receivers need not read the ticket again.
    fields: dict[str, Any] | None = None
    # Further keyword arguments for `ticket_changed` receivers (ticket services give those of
    # `announce_on_commit`: public_message_ids, channel, actor_kind, ...), passed on by
    # `each_ticket`, so that they need no look-up for a ticket of a bulk change either.
    extra: dict[str, Any] | None = None
    # The ticket's channel, when the announcer knows it: passed on to `ticket_changed` receivers
    # as `channel` by `each_ticket`, so receivers for other channels return without a look-up.
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

    transaction.on_commit(send)


def each_ticket(receiver: Callable[..., Any], kinds: Collection[str]) -> Callable[..., None]:
    """A `tickets_changed` receiver that hands each change with one of `kinds` to a
    `ticket_changed` receiver, one ticket at a time, marked in_bulk=True; the other changes cost
    a set intersection each."""
    wanted = frozenset(kinds)

    def receive(sender: Any, changes: list[TicketChange], **_: Any) -> None:
        for change in changes:
            if not wanted.isdisjoint(change.kinds):
                extra = {"channel": change.channel} if change.channel else {}
                extra.update(change.extra or {})
                receiver(
                    sender,
                    ticket_id=change.ticket_id,
                    event_ids=change.event_ids,
                    kinds=change.kinds,
                    in_bulk=True,
                    **extra,
                )

    return receive
