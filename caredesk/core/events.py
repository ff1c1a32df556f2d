"""Announcing committed changes.

Services call `announce_on_commit`; receivers (realtime push, automation, webhooks) connect to
`ticket_changed`. Nothing is announced for a transaction that rolls back.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.dispatch import Signal

# Sent after commit with: ticket_id, event_ids, kinds (list of event kinds) and, from ticket
# services, public_message_ids (public messages the change added).
ticket_changed = Signal()


def announce_on_commit(
    ticket_id: int, event_ids: list[int], kinds: list[str], **extra: Any
) -> None:
    def send() -> None:
        ticket_changed.send(
            sender=None, ticket_id=ticket_id, event_ids=event_ids, kinds=kinds, **extra
        )

    transaction.on_commit(send)
