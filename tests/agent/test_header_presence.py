"""Presence in the workspace header: every page shows and sets it, and warns when chats wait
with nobody online."""

from __future__ import annotations

import pytest
from django.test import Client

from caredesk.accounts.models import Presence, User
from caredesk.channels.chat import services as chat
from caredesk.channels.chat.models import ChatSession, ChatStatus, ChatWidget
from tests import factories

pytestmark = pytest.mark.django_db


def _client(agent: User) -> Client:
    client = Client()
    client.force_login(agent)
    return client


def test_every_agent_page_shows_and_sets_my_presence(personas):
    User.objects.filter(pk=personas.alice.pk).update(presence=Presence.AWAY)
    alice = _client(personas.alice)
    ticket = factories.ticket(team=personas.billing)
    for url in ("/agent/", f"/agent/tickets/{ticket.pk}/", "/agent/kb/", "/agent/chats/"):
        page = alice.get(url).content.decode()
        assert '<option value="away" selected>Away</option>' in page, url
        assert 'class="presence-dot presence-away"' in page, url
        assert 'hx-get="/agent/presence-prompt/"' in page, url
    back = alice.post(
        "/agent/chats/presence/",
        {"presence": "online", "next": f"/agent/tickets/{ticket.pk}/"},
    )
    assert back["Location"] == f"/agent/tickets/{ticket.pk}/"
    personas.alice.refresh_from_db()
    assert personas.alice.presence == Presence.ONLINE


def _waiting_chat(team, visitor: str) -> ChatSession:
    widget, _ = ChatWidget.objects.get_or_create(name="Site", defaults={"team": team})
    customer = factories.customer()
    ticket = factories.ticket(team=team, requester=customer)
    return ChatSession.objects.create(
        widget=widget,
        visitor_id=visitor,
        customer=customer,
        ticket=ticket,
        team=team,
        status=ChatStatus.WAITING,
    )


def test_the_header_prompts_when_chats_wait_and_nobody_is_online(personas):
    _waiting_chat(personas.billing, "v1")
    _waiting_chat(personas.billing, "v2")
    _waiting_chat(personas.technical, "v3")
    alice = _client(personas.alice)
    prompt = alice.get("/agent/presence-prompt/").content.decode()
    # Billing's two chats, not Technical's (not her team).
    assert "2 chats waiting and nobody is online: set yourself online to take them." in prompt

    chat.set_presence(personas.bob, Presence.ONLINE)
    assert "waiting" not in alice.get("/agent/presence-prompt/").content.decode()
    # Carol (Technical) sees her team's chat, which nobody on her team is online for.
    carol_prompt = _client(personas.carol).get("/agent/presence-prompt/").content.decode()
    assert "1 chat waiting and nobody is online" in carol_prompt


def test_a_chat_taken_or_ended_does_not_prompt(personas):
    session = _waiting_chat(personas.billing, "v1")
    ChatSession.objects.filter(pk=session.pk).update(status=ChatStatus.ACTIVE)
    assert "waiting" not in _client(personas.alice).get("/agent/presence-prompt/").content.decode()
