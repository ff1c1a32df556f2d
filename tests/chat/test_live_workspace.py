"""The live workspace socket: inbox pushes, live collision detection, authentication and origin."""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from caredesk.tickets import services as tickets
from tests import factories
from tests.chat.conftest import agent_socket, app, asynctest, db, receive_until, send

pytestmark = [pytest.mark.django_db(transaction=True)]


@asynctest
async def test_a_new_ticket_in_my_team_is_pushed_and_other_teams_hear_nothing(personas):
    alice = await agent_socket(personas.alice)
    carol = await agent_socket(personas.carol)
    ticket = await db(factories.ticket)(team=personas.billing)
    pushed = await receive_until(alice, "changed", ticket=ticket.pk)
    assert "created" in pushed["kinds"]
    assert await carol.receive_nothing(timeout=0.3)
    await db(tickets.post_message)(personas.bob, ticket, body_text="On it", internal=True)
    note = await receive_until(alice, "changed", ticket=ticket.pk)
    assert "note_added" in note["kinds"]
    await alice.disconnect()
    await carol.disconnect()


@asynctest
async def test_collision_detection_is_live_and_scoped(personas):
    ticket = await db(factories.ticket)(team=personas.billing)
    alice = await agent_socket(personas.alice)
    bob = await agent_socket(personas.bob)
    await send(alice, type="watch", ticket=ticket.pk)
    await receive_until(alice, "watching")
    await send(bob, type="watch", ticket=ticket.pk, state="typing")
    watching = await receive_until(bob, "watching")
    assert [o["name"] for o in watching["others"]] == ["Alice"]
    typing = await receive_until(alice, "presence")
    assert typing["name"] == "Bob" and typing["state"] == "typing"
    carol = await agent_socket(personas.carol)
    await send(carol, type="watch", ticket=ticket.pk)
    assert (await receive_until(carol, "error"))["code"] == "not_found"
    await send(carol, type="watch", ticket="1; drop")
    assert (await receive_until(carol, "error"))["code"] == "bad_ticket"
    for c in (alice, bob, carol):
        await c.disconnect()


def _session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


@asynctest
async def test_the_workspace_socket_needs_a_signed_in_agent_and_our_own_origin(personas):
    cookie = await db(_session_cookie)(personas.alice)
    ok = WebsocketCommunicator(
        app(), "/ws/agent/", headers=[(b"origin", b"http://127.0.0.1:8000"), (b"cookie", cookie)]
    )
    connected, _ = await ok.connect()
    assert connected
    assert (await ok.receive_json_from())["agent"] == "Alice"
    await ok.disconnect()
    anonymous = WebsocketCommunicator(
        app(), "/ws/agent/", headers=[(b"origin", b"http://127.0.0.1:8000")]
    )
    connected, code = await anonymous.connect()
    assert not connected and code == 4401
    foreign = WebsocketCommunicator(
        app(), "/ws/agent/", headers=[(b"origin", b"https://evil.example"), (b"cookie", cookie)]
    )
    connected, _ = await foreign.connect()
    assert not connected
