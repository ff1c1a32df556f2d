"""The change contract: what the rest of caredesk is told after ticket changes commit.

Ticket services announce every committed batch once, as a list of `TicketChange` (one per ticket,
with everything a receiver needs: the events' kinds and data, who caused them, the ticket's
channel and, when the announcer has them, the fields that say who may see it). Each app registers
one receiver with `register`; after the commit `dispatch` hands the batch to every receiver in
a fixed order, each guarded, so a failing receiver is logged and the others still run.

A receiver that itself commits a change (routing assigns, automation runs actions) announces a
batch of its own. It is dispatched after the current batch has reached every receiver, never in
the middle of it: every receiver sees a ticket's CREATED before its ASSIGNED, the same way in
production and under the tests' on-commit capture. Nothing is announced for a transaction that
rolls back.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)

MESSAGE_ADDED = "message_added"  # EventKind.MESSAGE_ADDED, without importing the models here


@dataclass(frozen=True)
class TicketChange:
    """What one ticket went through in one committed batch."""

    ticket_id: int
    event_ids: list[int]
    kinds: list[str]
    # Each event's data, in the order of event_ids.
    data: list[dict[str, Any]]
    # Who caused the events: "agent", "customer", "bot", "system", ...
    actor_kind: str
    # The ticket's channel (it never changes).
    channel: str
    # The ticket's fields after the change that say who may see it (team_id, assignee_id,
    # restricted, channel), when the announcer has them at hand; None means "read them".
    fields: Mapping[str, Any] | None = None
    # The change's messages already reached the customer's live session (chat lines echoed by
    # the chat server itself), so live delivery must not send them again.
    delivered_live: bool = False

    @property
    def messages(self) -> list[tuple[int, str | None]]:
        """(message id, author kind) of every message the events concern."""
        return [
            (int(data["message_id"]), data.get("author_kind"))
            for data in self.data
            if data.get("message_id")
        ]

    @property
    def public_message_ids(self) -> list[int]:
        """The public (not internal) messages the change added."""
        return [
            int(data["message_id"])
            for kind, data in zip(self.kinds, self.data, strict=True)
            if kind == MESSAGE_ADDED and not data.get("internal")
        ]

    def public_messages_by(self, author_kinds: set[str]) -> list[int]:
        """The public messages the change added that were written by one of `author_kinds`."""
        return [
            int(data["message_id"])
            for kind, data in zip(self.kinds, self.data, strict=True)
            if kind == MESSAGE_ADDED
            and not data.get("internal")
            and data.get("author_kind") in author_kinds
        ]


Receiver = Callable[[list[TicketChange]], Any]


@dataclass(frozen=True, order=True)
class _Registration:
    order: int
    name: str
    receive: Receiver = field(compare=False)


# The order receivers run in. Live delivery first (the customer and the agents see a change as
# soon as possible), then the clocks and the triggers, and routing last: it assigns and commits,
# and the others should have seen the batch as it was committed before routing's own follows.
DELIVERY = 100
LIVE = 200
SLA = 300
AUTOMATION = 400
ROUTING = 900

_receivers: list[_Registration] = []
_state = threading.local()


def register(name: str, receive: Receiver, *, order: int) -> None:
    """Register an app's one receiver (again under the same name: replaced, not doubled)."""
    global _receivers
    kept = [r for r in _receivers if r.name != name]
    _receivers = sorted([*kept, _Registration(order, name, receive)])


def unregister(name: str) -> None:
    global _receivers
    _receivers = [r for r in _receivers if r.name != name]


def receivers() -> list[str]:
    """The registered receivers' names, in the order they run."""
    return [r.name for r in _receivers]


def dispatch(changes: list[TicketChange]) -> None:
    """Hand a committed batch to every receiver in order. Batches announced while receivers run
    (their own commits) wait until the current batch is done, in the order they came."""
    pending: deque[list[TicketChange]] | None = getattr(_state, "pending", None)
    if pending is not None:
        pending.append(changes)
        return
    pending = _state.pending = deque([changes])
    try:
        while pending:
            batch = pending.popleft()
            for registration in list(_receivers):
                try:
                    registration.receive(batch)
                except Exception:
                    logger.exception(
                        "change receiver %s failed for tickets %s",
                        registration.name,
                        [c.ticket_id for c in batch][:20],
                    )
    finally:
        _state.pending = None


def announce_on_commit(changes: Sequence[TicketChange]) -> None:
    """Dispatch the batch after the current transaction commits (never if it rolls back)."""
    if not changes:
        return
    batch = list(changes)
    transaction.on_commit(lambda: dispatch(batch))
