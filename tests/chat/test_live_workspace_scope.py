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
