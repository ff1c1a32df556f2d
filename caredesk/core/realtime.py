"""Pushing to connected browsers through the Channels layer (in memory, or Redis across processes).

`push` is called from sync service code; it sends after the surrounding transaction commits, so a
rolled-back change is never announced. Groups: `agent.<id>`, `team.<id>`, `admins`, `ticket.<id>`,
`chat.<session token hex>`.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger("caredesk.realtime")


def send_now(group: str, payload: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, payload)
    except Exception:  # a push is best effort: the database already holds the truth
        logger.exception("realtime push to %s failed", group)


def push(group: str, payload: dict[str, Any]) -> None:
    """Send `payload` (its "type" names the consumer handler) to a group after commit."""
    transaction.on_commit(lambda: send_now(group, payload))
