"""The live workspace tells a restricted ticket's changes to the leads of its team and its
assignee, and to no other agent of the team (real sockets through the in-memory layer)."""

from __future__ import annotations

import pytest

from caredesk.tickets import services as tickets
from tests import factories
from tests.chat.conftest import agent_socket, asynctest, db, receive_until

pytestmark = [pytest.mark.django_db(transaction=True)]


@asynctest
async def test_a_restricted_tickets_change_reaches_the_lead_and_not_the_team(personas):
    ticket = await db(factories.ticket)(team=personas.billing)
    await db(tickets.update_ticket)(personas.lead, ticket, {"restricted": True})
    lead = await agent_socket(personas.lead)
    bob = await agent_socket(personas.bob)
    await db(tickets.update_ticket)(personas.lead, ticket, {"priority": "high"})
    pushed = await receive_until(lead, "changed", ticket=ticket.pk)
    assert "priority_changed" in pushed["kinds"]
    assert await bob.receive_nothing(timeout=0.3)
    await lead.disconnect()
    await bob.disconnect()


@pytest.mark.django_db
def test_a_restricted_chat_cannot_be_opened_by_an_agent_who_may_not_see_its_ticket(personas):
    import uuid

    from caredesk.channels.chat import services as chat
    from caredesk.channels.chat.models import ChatWidget
    from caredesk.core.errors import PermissionDenied

    widget = ChatWidget.objects.create(name="Shop", key="shop", team=personas.billing)
    ctx = chat.VisitorContext(widget=widget, visitor_id=uuid.uuid4().hex)
    session, _ = chat.start_chat(
        ctx, text="My card was charged twice", client_id="c1", email="v@example.test"
    )
    assert chat.access_session(personas.bob, session.token.hex).pk == session.pk
    tickets.update_ticket(personas.lead, session.ticket, {"restricted": True})
    for agent in (personas.bob, personas.alice):
        with pytest.raises(PermissionDenied):
            chat.access_session(agent, session.token.hex)
    assert chat.access_session(personas.lead, session.token.hex).pk == session.pk


@pytest.mark.django_db
def test_a_restricted_waiting_chat_is_offered_only_to_an_agent_who_may_see_it(personas):
    import uuid
    from datetime import timedelta

    from django.utils import timezone

    from caredesk.accounts.models import Presence
    from caredesk.channels.chat import services as chat
    from caredesk.channels.chat.models import ChatSession, ChatWidget

    for agent in (personas.alice, personas.bob, personas.lead):
        agent.presence = Presence.ONLINE
        agent.save(update_fields=["presence"])
    widget = ChatWidget.objects.create(name="Shop", key="shop", team=personas.billing)
    ctx = chat.VisitorContext(widget=widget, visitor_id=uuid.uuid4().hex)
    session, _ = chat.start_chat(
        ctx, text="A private matter", client_id="c1", email="v@example.test"
    )
    first = ChatSession.objects.get(pk=session.pk).offered_to
    assert first is not None
    tickets.update_ticket(personas.lead, session.ticket, {"restricted": True})
    # Nobody answered the offer: it moves on, and only a lead may see the chat now.
    ChatSession.objects.filter(pk=session.pk).update(
        offered_at=timezone.now() - timedelta(minutes=10)
    )
    chat.reoffer_stale()
    assert ChatSession.objects.get(pk=session.pk).offered_to == personas.lead
    session.ticket.refresh_from_db()
    assert chat._queue_groups(session.ticket) == ("admins", f"leads.team.{personas.billing.pk}")


@pytest.mark.django_db
def test_the_chat_desk_queue_lists_a_restricted_chat_only_to_those_who_may_see_it(client, personas):
    import uuid

    from caredesk.channels.chat import services as chat
    from caredesk.channels.chat.models import ChatWidget
    from caredesk.core.errors import ValidationFailed

    widget = ChatWidget.objects.create(name="Shop", key="shop", team=personas.billing)
    ctx = chat.VisitorContext(widget=widget, visitor_id=uuid.uuid4().hex)
    session, _ = chat.start_chat(
        ctx, text="About my account", client_id="c1", email="v@example.test", topic="kiloq topic"
    )
    client.force_login(personas.bob)
    assert "kiloq topic" in client.get("/agent/chats/").content.decode()
    tickets.update_ticket(personas.lead, session.ticket, {"restricted": True})
    assert "kiloq topic" not in client.get("/agent/chats/").content.decode()
    client.force_login(personas.lead)
    assert "kiloq topic" in client.get("/agent/chats/").content.decode()
    session.ticket.refresh_from_db()
    with pytest.raises(ValidationFailed):
        chat.transfer(personas.lead, session.token.hex, to_agent=personas.bob, note="over to you")
