"""The chat protocol over real WebSockets through caredesk's ASGI application."""

from __future__ import annotations

import pytest
from django.core import mail

from caredesk.channels.chat import services as chat
from caredesk.channels.chat.models import ChatSession, ChatStatus
from caredesk.tickets.models import Channel, Message, Status, Ticket
from tests.chat.conftest import (
    agent_socket,
    asynctest,
    db,
    receive_until,
    reply_for,
    send,
    signed,
    visitor,
)

pytestmark = [pytest.mark.django_db(transaction=True)]


async def start(comm, text="My card was charged twice", client_id="c1", **extra):
    await send(
        comm,
        type="start",
        client_id=client_id,
        text=text,
        name="Dana Visitor",
        email="dana@example.test",
        topic="Billing",
        **extra,
    )
    started = await receive_until(comm, "started")
    ack = await receive_until(comm, "ack", client_id=client_id)
    return started, ack


@asynctest
async def test_a_chat_starts_as_a_ticket_and_is_offered_to_the_least_loaded_agent(widget, online):
    comm, connected, _ = await visitor()
    assert connected
    hello = await receive_until(comm, "hello")
    assert hello["agents_online"] is True and hello["session"] is None
    assert hello["widget"]["require_email"] is True
    alice = await agent_socket(online.alice)
    bob = await agent_socket(online.bob)
    started, ack = await start(comm)
    session = await db(ChatSession.objects.select_related("ticket").get)(token=started["session"])
    assert session.ticket.channel == Channel.CHAT
    assert session.ticket.subject == "Billing"
    assert session.status == ChatStatus.WAITING
    offered = session.offered_to_id
    assert offered in (online.alice.pk, online.bob.pk)
    winner, other = (alice, bob) if offered == online.alice.pk else (bob, alice)
    offer = await receive_until(winner, "offer", offered=True)
    assert offer["session"] == started["session"] and offer["customer"] == "Dana Visitor"
    await send(winner, type="accept", session=started["session"])
    await receive_until(winner, "accepted")
    joined = await receive_until(comm, "joined")
    assert joined["agent"] in ("Alice", "Bob")
    # The agent writes; the visitor receives it live, then a visitor reply reaches the agent.
    await send(
        winner, type="message", session=started["session"], client_id="a1", text="Hello Dana"
    )
    await receive_until(winner, "ack", client_id="a1")
    got = await receive_until(comm, "message")
    assert got["message"]["text"] == "Hello Dana" and got["message"]["from"] == "agent"
    await send(comm, type="message", client_id="c2", text="Thanks!")
    await receive_until(comm, "ack", client_id="c2")
    live = await receive_until(winner, "message", where=lambda f: f["message"]["from"] == "visitor")
    assert live["message"]["text"] == "Thanks!" and live["message"]["from"] == "visitor"
    ticket = await db(Ticket.objects.get)(pk=session.ticket_id)
    assert ticket.assignee_id == offered and ticket.first_response_at is not None
    for c in (comm, alice, bob):
        await c.disconnect()


@asynctest
async def test_the_same_client_message_id_twice_stores_one_message(widget, online):
    comm, _, _ = await visitor()
    await receive_until(comm, "hello")
    started, first = await start(comm)
    # A reconnecting widget resends what it has no ack for: the start and a message, twice.
    await send(comm, type="message", client_id="c2", text="second")
    ack2 = await receive_until(comm, "ack", client_id="c2")
    await send(comm, type="message", client_id="c2", text="second")
    again = await receive_until(comm, "ack", client_id="c2")
    await send(comm, type="start", client_id="c1", text="My card was charged twice")
    again_first = await receive_until(comm, "ack", client_id="c1")
    assert again["id"] == ack2["id"] and again_first["id"] == first["id"]
    session = await db(ChatSession.objects.get)(token=started["session"])
    count = await db(Message.objects.filter(ticket_id=session.ticket_id).count)()
    assert count == 2
    await comm.disconnect()


@asynctest
async def test_a_reload_resumes_the_conversation_and_a_reconnect_gets_what_it_missed(
    widget, online
):
    comm, _, _ = await visitor()
    hello = await receive_until(comm, "hello")
    token = hello["visitor"]
    started, ack = await start(comm)
    await comm.disconnect()
    session = await db(ChatSession.objects.select_related("ticket").get)(token=started["session"])
    await db(chat.accept)(online.alice, started["session"])
    # While the visitor is away the agent answers (e.g. from the ticket page).
    await db(chat.agent_message)(
        online.alice, started["session"], text="Still there?", client_id="x1"
    )
    again, connected, _ = await visitor(query=f"visitor={token}")
    assert connected
    hello2 = await receive_until(again, "hello")
    assert hello2["visitor"] == token
    assert hello2["session"]["id"] == started["session"]
    assert [m["text"] for m in hello2["session"]["messages"]] == [
        "My card was charged twice",
        "Still there?",
    ]
    await send(again, type="resume", after=ack["id"])
    history = await receive_until(again, "history")
    assert [m["text"] for m in history["messages"]] == ["Still there?"]
    assert session.ticket.channel == Channel.CHAT
    await again.disconnect()


@asynctest
async def test_bad_frames_get_clear_errors_and_the_socket_stays_up(widget, online):
    comm, _, _ = await visitor()
    await receive_until(comm, "hello")
    await comm.send_to(text_data="{not json")
    assert (await receive_until(comm, "error"))["code"] == "bad_json"
    await comm.send_to(text_data='["a list"]')
    assert (await receive_until(comm, "error"))["code"] == "bad_frame"
    await send(comm, type="launch_missiles")
    assert (await receive_until(comm, "error"))["code"] == "unknown_type"
    await send(comm, type="message", client_id="c1", text="hi")
    assert (await receive_until(comm, "error"))["code"] == "no_chat"
    await comm.send_to(text_data='{"type": "start", "text": "' + "x" * 40000 + '"}')
    assert (await receive_until(comm, "error"))["code"] == "too_large"
    await send(comm, type="start", client_id="c1", text="y" * 5001, email="d@example.test")
    too_long = await receive_until(comm, "error")
    assert too_long["code"] == "too_long" and too_long["client_id"] == "c1"
    await send(comm, type="start", client_id="c1", text="hello")
    assert (await receive_until(comm, "error"))["code"] == "email_required"
    await send(comm, type="start", client_id="bad id!", text="hello", email="d@example.test")
    assert (await receive_until(comm, "error"))["code"] == "validation_failed"
    await comm.send_to(bytes_data=b"\x00\x01")
    assert (await receive_until(comm, "error"))["code"] == "bad_frame"
    # Still answering after all that.
    started, _ = await start(comm)
    assert started["session"]
    assert await db(ChatSession.objects.count)() == 1
    await comm.disconnect()


@asynctest
async def test_a_message_flood_is_rate_limited_and_nothing_is_stored_twice(widget, online):
    comm, _, _ = await visitor()
    await receive_until(comm, "hello")
    started, _ = await start(comm)
    codes = []
    for i in range(chat.FLOOD_LIMIT + 5):
        await send(comm, type="message", client_id=f"f{i}", text=f"spam {i}")
        frame = await reply_for(comm, f"f{i}")
        codes.append(frame["code"] if frame["type"] == "error" else "ok")
    assert codes[: chat.FLOOD_LIMIT - 1] == ["ok"] * (chat.FLOOD_LIMIT - 1)
    assert set(codes[chat.FLOOD_LIMIT - 1 :]) == {"rate_limited"}
    session = await db(ChatSession.objects.get)(token=started["session"])
    stored = await db(Message.objects.filter(ticket_id=session.ticket_id).count)()
    assert stored == chat.FLOOD_LIMIT  # the start plus FLOOD_LIMIT - 1 messages
    await comm.disconnect()


@asynctest
async def test_a_disallowed_origin_is_rejected(widget):
    comm, connected, code = await visitor(origin="https://evil.example")
    assert not connected and code == 4403
    comm, connected, _ = await visitor(origin="")
    assert not connected
    comm, connected, _ = await visitor(key="no-such-widget")
    assert not connected


@asynctest
async def test_a_forged_identity_or_visitor_id_is_rejected(widget):
    comm, connected, code = await visitor(query="user_id=42&user_hash=" + "0" * 64)
    assert not connected and code == 4403
    comm, connected, code = await visitor(query="visitor=forged-token")
    assert not connected and code == 4403
    comm, connected, _ = await visitor(query=signed("42"))
    assert connected
    hello = await receive_until(comm, "hello")
    assert hello["widget"]["require_email"] is False
    await send(comm, type="start", client_id="c1", text="Where is my order?")
    started = await receive_until(comm, "started")
    session = await db(ChatSession.objects.select_related("customer").get)(token=started["session"])
    identities = await db(lambda: list(session.customer.identities.values_list("kind", "value")))()
    assert ("external", "shop:42") in identities
    await comm.disconnect()


@asynctest
async def test_an_agent_outside_the_team_cannot_take_or_join_the_chat(widget, online):
    comm, _, _ = await visitor()
    await receive_until(comm, "hello")
    started, _ = await start(comm)
    carol = await agent_socket(online.carol)  # Technical, not Billing
    for kind in ("accept", "join", "typing"):
        await send(carol, type=kind, session=started["session"])
        refused = await receive_until(carol, "error")
        assert refused["code"] == "forbidden"
    await send(carol, type="message", session=started["session"], client_id="z", text="hi")
    assert (await receive_until(carol, "error"))["code"] == "forbidden"
    session = await db(ChatSession.objects.get)(token=started["session"])
    assert session.agent_id is None
    await carol.disconnect()
    await comm.disconnect()


@asynctest
async def test_typing_and_read_receipts_travel_both_ways(widget, online):
    comm, _, _ = await visitor()
    await receive_until(comm, "hello")
    started, ack = await start(comm)
    await db(chat.accept)(online.alice, started["session"])
    alice = await agent_socket(online.alice)
    await send(comm, type="typing", state=True)
    typing = await receive_until(alice, "typing")
    assert typing["state"] is True and typing["side"] == "visitor"
    await send(alice, type="typing", session=started["session"], state=True)
    assert (await receive_until(comm, "typing"))["name"] == "Alice"
    await send(alice, type="read", session=started["session"], up_to=ack["id"])
    read = await receive_until(comm, "read")
    assert read["up_to"] == ack["id"]
    session = await db(ChatSession.objects.get)(token=started["session"])
    assert session.agent_read_upto == ack["id"]
    await alice.disconnect()
    await comm.disconnect()


@asynctest
async def test_ending_the_chat_solves_the_ticket_and_emails_the_transcript(widget, online):
    comm, _, _ = await visitor()
    await receive_until(comm, "hello")
    started, _ = await start(comm)
    await db(chat.accept)(online.alice, started["session"])
    await db(chat.agent_message)(online.alice, started["session"], text="Refunded.", client_id="a1")
    await send(comm, type="transcript", email="bad-address")
    assert (await receive_until(comm, "error"))["code"] == "bad_email"
    await send(comm, type="transcript", email="dana@example.test")
    await receive_until(comm, "transcript_requested")
    alice = await agent_socket(online.alice)
    await send(alice, type="end", session=started["session"])
    ended = await receive_until(comm, "ended")
    assert ended["by"] == "agent"
    session = await db(ChatSession.objects.select_related("ticket").get)(token=started["session"])
    assert session.status == ChatStatus.ENDED and session.ticket.status == Status.SOLVED
    texts = await db(
        lambda: list(session.ticket.messages.order_by("id").values_list("body_text", flat=True))
    )()
    assert texts == ["My card was charged twice", "Refunded."]
    await send(comm, type="message", client_id="late", text="one more")
    assert (await receive_until(comm, "error"))["code"] == "chat_ended"
    sent = [m for m in mail.outbox if "transcript" in m.subject.lower()]
    assert sent and "Refunded." in sent[0].body and sent[0].to == ["dana@example.test"]
    await alice.disconnect()
    await comm.disconnect()


@asynctest
async def test_nobody_online_means_offline_mode_and_the_message_becomes_a_chat_ticket(
    widget, personas
):
    comm, _, _ = await visitor()
    hello = await receive_until(comm, "hello")
    assert hello["agents_online"] is False
    await send(comm, type="offline", client_id="o1", text="Call me back", email="no")
    assert (await receive_until(comm, "error"))["code"] == "bad_email"
    await send(comm, type="offline", client_id="o1", text="Call me back", email="eve@example.test")
    received = await receive_until(comm, "offline_received")
    ticket = await db(Ticket.objects.get)(pk=received["ticket"])
    # A chat ticket (reported and routed as chat), answered by e-mail since no chat is open.
    assert ticket.channel == Channel.CHAT and ticket.team_id == personas.billing.pk
    await comm.disconnect()
