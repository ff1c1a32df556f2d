"""Routing hands a ticket only to an agent who may see it, and never assigns a live chat: the
chat channel offers those itself (accept / decline)."""

import uuid

import pytest

from caredesk.accounts.models import Presence
from caredesk.accounts.services import create_token
from caredesk.channels.chat import services as chat
from caredesk.channels.chat.models import ChatStatus, ChatWidget
from caredesk.core.errors import NotFound
from caredesk.routing import services as routing
from caredesk.routing.models import RoutingMethod, TeamRouting
from caredesk.tickets.models import Ticket
from caredesk.tickets.services import access_ticket, update_ticket
from tests import factories

pytestmark = pytest.mark.django_db


def online(*agents):
    for agent in agents:
        agent.presence = Presence.ONLINE
        agent.save(update_fields=["presence"])


def restricted_ticket(personas, **fields):
    ticket = factories.ticket(team=personas.billing, subject="Restricted matter", **fields)
    update_ticket(personas.lead, ticket, {"restricted": True})
    return Ticket.objects.get(pk=ticket.pk)


def test_next_ticket_never_hands_a_junior_a_restricted_ticket(personas):
    secret = restricted_ticket(personas, priority=3)
    plain = factories.ticket(team=personas.billing, priority=0)
    assert routing.next_ticket(personas.bob) == plain
    assert routing.next_ticket(personas.bob) is None
    assert Ticket.objects.get(pk=secret.pk).assignee_id is None
    with pytest.raises(NotFound):
        access_ticket(personas.bob, secret.pk)
    # A lead may see it, so a lead may take it.
    assert routing.next_ticket(personas.lead) == secret


def test_api_next_never_hands_a_junior_a_restricted_ticket(client, personas):
    secret = restricted_ticket(personas, priority=3)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {create_token(personas.bob).token}"}
    response = client.post("/api/v1/routing/next", **auth)
    assert response.status_code == 204, response.content
    assert Ticket.objects.get(pk=secret.pk).assignee_id is None
    assert client.get(f"/api/v1/tickets/{secret.pk}", **auth).status_code == 404


def test_workspace_next_never_hands_a_junior_a_restricted_ticket(client, personas):
    secret = restricted_ticket(personas, priority=3)
    client.force_login(personas.bob)
    response = client.post("/agent/next/", follow=True)
    assert response.status_code == 200
    assert "Restricted matter" not in response.content.decode()
    assert "No unassigned ticket you can take right now." in response.content.decode()
    assert Ticket.objects.get(pk=secret.pk).assignee_id is None


def test_push_routing_gives_a_restricted_ticket_only_to_someone_who_may_see_it(personas):
    TeamRouting.objects.create(team=personas.billing, method=RoutingMethod.LEAST_LOADED)
    online(personas.alice, personas.bob)
    secret = restricted_ticket(personas)
    assert routing.route(secret) is None  # no lead online: nobody may take it
    online(personas.lead)
    assert routing.route(secret) == personas.lead


def test_the_pass_gives_a_restricted_ticket_only_to_someone_who_may_see_it(personas):
    TeamRouting.objects.create(team=personas.billing, method=RoutingMethod.LEAST_LOADED)
    online(personas.alice, personas.bob)
    secret = restricted_ticket(personas)
    plain = factories.ticket(team=personas.billing)
    assert routing.reroute_pass()["assigned"] == 1
    assert Ticket.objects.get(pk=plain.pk).assignee_id in (personas.alice.pk, personas.bob.pk)
    assert Ticket.objects.get(pk=secret.pk).assignee_id is None
    online(personas.lead)
    assert routing.reroute_pass()["assigned"] == 1
    assert Ticket.objects.get(pk=secret.pk).assignee_id == personas.lead.pk


@pytest.fixture
def waiting_chat(personas):
    """A chat started while nobody was online: its session waits for an agent to accept it."""
    widget = ChatWidget.objects.create(name="Shop", key="shop", team=personas.billing)
    ctx = chat.VisitorContext(widget=widget, visitor_id=uuid.uuid4().hex)
    session, _ = chat.start_chat(ctx, text="Is anyone there?", client_id="c1", email="v@ex.test")
    assert session.status == ChatStatus.WAITING
    return session


def test_the_routing_pass_never_assigns_a_waiting_chat(personas, waiting_chat):
    TeamRouting.objects.create(team=personas.billing, method=RoutingMethod.LEAST_LOADED)
    online(personas.alice)
    email = factories.ticket(team=personas.billing)
    assert routing.reroute_pass()["assigned"] == 1
    assert Ticket.objects.get(pk=email.pk).assignee_id == personas.alice.pk
    waiting_chat.refresh_from_db()
    assert Ticket.objects.get(pk=waiting_chat.ticket_id).assignee_id is None
    assert waiting_chat.status == ChatStatus.WAITING and waiting_chat.agent_id is None


def test_routing_one_ticket_never_assigns_a_chat(personas, waiting_chat):
    TeamRouting.objects.create(team=personas.billing, method=RoutingMethod.LEAST_LOADED)
    online(personas.alice)
    assert routing.route(Ticket.objects.get(pk=waiting_chat.ticket_id), force=True) is None
    assert routing.queued_tickets([personas.billing.pk], 100) == []
    assert routing.next_ticket(personas.alice) is None
    assert Ticket.objects.get(pk=waiting_chat.ticket_id).assignee_id is None


def test_escalation_picks_only_an_agent_who_may_see_the_restricted_ticket(personas):
    secret = restricted_ticket(personas)
    # Technical has only a senior agent, no lead: nobody there may see a restricted ticket.
    moved = routing.escalate(
        personas.lead, secret, reason="needs the technical team", to_team=personas.technical
    )
    assert moved.team == personas.technical and moved.assignee_id is None
    with pytest.raises(NotFound):
        access_ticket(personas.carol, secret.pk)
