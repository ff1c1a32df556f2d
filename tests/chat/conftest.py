"""Chat fixtures: a widget answered by Billing, online agents, and WebSocket clients that speak
the real protocol through caredesk's ASGI application."""

from __future__ import annotations

import asyncio
import functools
import json

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from caredesk.accounts.models import Presence
from caredesk.channels.chat.models import ChatWidget
from caredesk.channels.chat.services import identity_hash


@pytest.fixture
def widget(personas):
    return ChatWidget.objects.create(
        name="Shop",
        key="shop",
        team=personas.billing,
        allowed_origins=["https://shop.example"],
        identity_secret="s3cret",
    )


@pytest.fixture
def online(personas):
    for agent in (personas.alice, personas.bob):
        agent.presence = Presence.ONLINE
        agent.save(update_fields=["presence"])
    return personas


def app():
    from caredesk.asgi import application

    return application


async def visitor(key="shop", origin="https://shop.example", query=""):
    comm = WebsocketCommunicator(
        app(),
        f"/ws/chat/{key}/{'?' + query if query else ''}",
        headers=[(b"origin", origin.encode())],
    )
    connected, code = await comm.connect()
    return comm, connected, code


async def agent_socket(user):
    from caredesk.channels.chat.consumers import AgentConsumer

    comm = WebsocketCommunicator(AgentConsumer.as_asgi(), "/ws/agent/")
    comm.scope["user"] = user
    connected, _ = await comm.connect()
    assert connected
    hello = await comm.receive_json_from()
    assert hello["type"] == "hello"
    return comm


async def receive_until(comm, kind, timeout=10.0, where=None, **match):
    """Frames until one of type `kind` (matching the given fields) arrives; others are skipped."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"no {kind!r} frame with {match} within {timeout}s")
        frame = await comm.receive_json_from(timeout=remaining)
        if (
            frame["type"] == kind
            and all(frame.get(k) == v for k, v in match.items())
            and (where is None or where(frame))
        ):
            return frame


async def send(comm, **frame):
    await comm.send_to(text_data=json.dumps(frame))


def signed(user_id, secret="s3cret"):
    return f"user_id={user_id}&user_hash={identity_hash(secret, user_id)}"


db = database_sync_to_async


async def reply_for(comm, client_id, timeout=10.0):
    """The ack or error answering the frame with this client id."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        frame = await comm.receive_json_from(timeout=max(deadline - loop.time(), 0.01))
        if frame["type"] in ("ack", "error") and frame.get("client_id") == client_id:
            return frame


def asynctest(fn):
    """Run an async test body on an event loop (pytest fixtures still resolve by signature)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return async_to_sync(fn)(*args, **kwargs)

    return wrapper
