"""Pushing to connected browsers through the Channels layer (in memory, or Redis across processes).

`push` is called from sync service code; it sends after the surrounding transaction commits, so a
rolled-back change is never announced. Groups: `agent.<id>`, `team.<id>`, `admins`, `unrouted`,
`leads`, `leads.team.<id>`, `ticket.<id>`, `chat.<session token hex>`; who joins which, and which
a ticket's change goes to, follow the visibility rule (tickets.access.viewer_groups and
ticket_audience).

Inside the web server the sync code runs in a worker thread beside the event loop that serves the
sockets. There a push is handed to that loop's outbox and the thread goes on at once (waiting for a
busy loop would hold up the next database write); one task per loop sends the outbox in order, so
two lines of a chat never swap. Elsewhere (jobs, the shell) the push is sent before returning.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

logger = logging.getLogger("caredesk.realtime")

_server_loop: asyncio.AbstractEventLoop | None = None
_outbox: asyncio.Queue[tuple[str, dict[str, Any]]] | None = None
_lock = threading.Lock()


def attach_to_running_loop() -> None:
    """Called by the consumers (in the server's event loop): pushes go through this loop."""
    global _server_loop, _outbox
    loop = asyncio.get_running_loop()
    with _lock:
        if _server_loop is loop:
            return
        _server_loop = loop
        _outbox = asyncio.Queue()
        loop.create_task(_drain(_outbox))


# Pushes sent together at most (one Redis pipeline with a layer that has `group_send_many`).
DRAIN_BATCH = 500


async def _send(layer: Any, items: list[tuple[str, dict[str, Any]]]) -> None:
    """Send each (group, payload) in order: in one go where the layer can (Redis: one pipeline,
    `core.channel_layer`), else one group send at a time."""
    send_many = getattr(layer, "group_send_many", None)
    if send_many is not None:
        await send_many(items)
        return
    for group, payload in items:
        try:
            await layer.group_send(group, payload)
        except Exception:  # a push is best effort: the database already holds the truth
            logger.exception("realtime push to %s failed", group)


async def _drain(outbox: asyncio.Queue[tuple[str, dict[str, Any]]]) -> None:
    layer = get_channel_layer()
    while True:
        # What queued up while the last send was in flight goes out as the next batch.
        batch = [await outbox.get()]
        while len(batch) < DRAIN_BATCH and not outbox.empty():
            batch.append(outbox.get_nowait())
        if layer is None:
            continue
        try:
            await _send(layer, batch)
        except Exception:  # a push is best effort: the database already holds the truth
            logger.exception("realtime push of %d messages failed", len(batch))


def _put_all(
    outbox: asyncio.Queue[tuple[str, dict[str, Any]]], items: list[tuple[str, dict[str, Any]]]
) -> None:
    for item in items:
        outbox.put_nowait(item)


def send_now(group: str, payload: dict[str, Any]) -> None:
    send_to_groups([group], payload)


def send_to_groups(groups: list[str], payload: dict[str, Any]) -> None:
    """Send one payload to several groups, in order."""
    send_batch([(groups, payload)])


def send_batch(messages: list[tuple[list[str], dict[str, Any]]]) -> None:
    """Send each payload to its groups, in order. Outside the server's loop all the sends share one
    trip into async code: each async_to_sync call costs a thread hop and an event loop turn, which
    cost more than the sends themselves (a bulk change announces thousands of tickets at once)."""
    loop, outbox = _server_loop, _outbox
    if loop is not None and outbox is not None and loop.is_running() and not loop.is_closed():
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        items = [(group, payload) for groups, payload in messages for group in groups]
        if running is loop:
            _put_all(outbox, items)
        elif items:
            # One wake-up of the loop for the whole batch: each call_soon_threadsafe writes to the
            # loop's self-pipe, and a batch of chat lines would otherwise cost one per line.
            loop.call_soon_threadsafe(_put_all, outbox, items)
        return
    layer = get_channel_layer()
    if (
        layer is None
        or not any(groups for groups, _ in messages)
        or isinstance(layer, InMemoryChannelLayer)
    ):
        # An in-process layer with no server loop in this process has nobody to hear it
        # (a job, the shell, the demo loader): skip the work.
        return

    async def send_all() -> None:
        items = [(group, payload) for groups, payload in messages for group in groups]
        for start in range(0, len(items), DRAIN_BATCH):
            try:
                await _send(layer, items[start : start + DRAIN_BATCH])
            except Exception:  # a push is best effort: the database already holds the truth
                logger.exception("realtime push of %d messages failed", len(items))

    try:
        async_to_sync(send_all)()
    except Exception:  # a push is best effort: the database already holds the truth
        logger.exception(
            "realtime push to %s failed", ", ".join(g for groups, _ in messages for g in groups)
        )


def push(group: str, payload: dict[str, Any]) -> None:
    """Send `payload` (its "type" names the consumer handler) to a group after commit."""
    transaction.on_commit(lambda: send_now(group, payload))
