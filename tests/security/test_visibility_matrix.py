"""What a 200 page contains, for every role: every agent page and API list, search, timeline and
count that shows tickets or their messages, with tickets inside and outside the caller's scope.

The expected scope of each role is written out below from the roles table of docs/security.md
(not computed by the rule under test); each cell asserts that the subjects and message excerpts
of out-of-scope tickets are absent and, where the page lists everything, that in-scope ones are
present. Customers: the portal shows a customer their own tickets only.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client

from caredesk.accounts.models import Tier
from caredesk.accounts.services import create_token
from caredesk.agent.services import VIEW_KEYS, view_counts
from caredesk.tickets.models import Ticket
from caredesk.tickets.services import assign, post_message, update_ticket
from tests import factories

pytestmark = pytest.mark.django_db

# Each ticket's code word is in its subject and in every message on it (and no code contains
# another), so finding the code anywhere in a response means the ticket leaked into it.
CODES = {
    "own_team": "alphaq",  # Billing, unassigned
    "other_team": "bravoq",  # Technical, assigned to its agent
    "restricted": "charlieq",  # Billing, restricted, unassigned
    "unrouted": "deltaq",  # no team, unassigned
    "restricted_mine": "echoq",  # Billing, restricted, assigned to the junior agent
}
# Who sees what (docs/security.md, "Roles"): team A is Billing, team B is Technical.
SEES = {
    "admin": set(CODES),
    "lead": {"own_team", "restricted", "unrouted", "restricted_mine"},
    "senior": {"own_team", "unrouted"},
    "mid": {"own_team", "unrouted"},
    "junior": {"own_team", "unrouted", "restricted_mine"},
    "other_team_agent": {"other_team", "unrouted"},
}
ROLES = list(SEES)
COMMON_WORD = "quokka"  # in every ticket, so one search finds them all


@dataclass
class World:
    agents: dict
    tickets: dict
    customer_id: int


@pytest.fixture
def world(personas) -> World:
    senior = factories.agent(name="Sam Senior", tier=Tier.SENIOR, teams=[personas.billing])
    agents = {
        "admin": personas.admin,
        "lead": personas.lead,
        "senior": senior,
        "mid": personas.alice,
        "junior": personas.bob,
        "other_team_agent": personas.carol,
    }
    requester = factories.customer(name="Riley Requester")
    teams = {
        "own_team": personas.billing,
        "other_team": personas.technical,
        "restricted": personas.billing,
        "unrouted": None,
        "restricted_mine": personas.billing,
    }
    tickets = {}
    for key, code in CODES.items():
        ticket = factories.ticket(
            requester=requester,
            team=teams[key],
            subject=f"{code} subject",
            body=f"{code} question {COMMON_WORD}",
        )
        post_message(personas.admin, ticket, body_text=f"{code} public reply")
        tickets[key] = ticket
    for key in ("restricted", "restricted_mine"):
        update_ticket(personas.lead, tickets[key], {"restricted": True})
    assign(personas.lead, tickets["restricted_mine"], personas.bob)
    assign(personas.admin, tickets["other_team"], personas.carol)
    return World(agents=agents, tickets=tickets, customer_id=requester.pk)


def _agent_client(world: World, role: str) -> Client:
    client = Client()
    client.force_login(world.agents[role])
    return client


def _api_client(world: World, role: str) -> Client:
    token = create_token(world.agents[role], scope="read").token
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


# (name, client kind, url template, lists everything the role may see)
PAGES = [
    ("inbox-all", "agent", "/agent/?view=all", True),
    *((f"inbox-{view}", "agent", f"/agent/?view={view}", False) for view in sorted(VIEW_KEYS)),
    ("search", "agent", f"/agent/search/?q={COMMON_WORD}", True),
    ("customer-page", "agent", "/agent/customers/{customer}/", True),
    ("ticket-page-previous", "agent", "/agent/tickets/{unrouted}/", True),
    ("api-ticket-list", "api", "/api/v1/tickets?limit=100", True),
    ("api-search", "api", f"/api/v1/search?q={COMMON_WORD}&type=ticket,customer", True),
    ("api-customer-timeline", "api", "/api/v1/customers/{customer}/timeline", True),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("page", "kind", "url", "lists_all"), PAGES, ids=[p[0] for p in PAGES])
def test_a_page_shows_exactly_the_tickets_the_role_may_see(world, role, page, kind, url, lists_all):
    client = _agent_client(world, role) if kind == "agent" else _api_client(world, role)
    response = client.get(
        url.format(customer=world.customer_id, unrouted=world.tickets["unrouted"].pk)
    )
    assert response.status_code == 200, response.content[:300]
    content = response.content.decode()
    for key, code in CODES.items():
        if key not in SEES[role]:
            assert code not in content, f"{role} sees {key} on {page}"
        elif lists_all:
            assert code in content, f"{role} misses {key} on {page}"


@pytest.mark.parametrize("role", ROLES)
def test_the_customer_pages_show_messages_only_of_tickets_in_scope(world, role):
    """The "Interactions" of the agent's customer page and the API timeline: every message
    excerpt from a ticket in scope, none from a ticket outside it."""
    page = _agent_client(world, role).get(f"/agent/customers/{world.customer_id}/").content
    api = _api_client(world, role).get(f"/api/v1/customers/{world.customer_id}/timeline").json()
    shown = {item["ticket_id"] for item in api}
    for key, code in CODES.items():
        visible = key in SEES[role]
        assert (f"{code} public reply" in page.decode()) == visible, (role, key)
        assert (world.tickets[key].pk in shown) == visible, (role, key)


@pytest.mark.parametrize("role", ROLES)
def test_single_ticket_reads_answer_404_outside_the_scope(world, role):
    client = _api_client(world, role)
    agent_client = _agent_client(world, role)
    for key, ticket in world.tickets.items():
        expected = 200 if key in SEES[role] else 404
        for url in (f"/api/v1/tickets/{ticket.pk}", f"/api/v1/tickets/{ticket.pk}/messages"):
            assert client.get(url).status_code == expected, (role, key, url)
        assert agent_client.get(f"/agent/tickets/{ticket.pk}/").status_code == expected


@pytest.mark.parametrize("role", ROLES)
def test_view_counts_count_only_tickets_in_scope(world, role):
    counts = view_counts(world.agents[role])
    assert counts["all"] == str(len(SEES[role]))
    listed = _api_client(world, role).get("/api/v1/tickets?limit=100").json()["items"]
    assert len(listed) == len(SEES[role])


def test_a_customer_sees_only_their_own_tickets_in_the_portal(world):
    from caredesk.portal.views import SESSION_KEY

    requester = Ticket.objects.get(pk=world.tickets["own_team"].pk).requester
    stranger_ticket = factories.ticket(subject="foxtrotq subject", body="foxtrotq question")
    post_message(
        world.agents["admin"], world.tickets["own_team"], body_text="hotelq note", internal=True
    )

    def portal(customer):
        client = Client()
        session = client.session
        session[SESSION_KEY] = customer.pk
        session.save()
        return client

    mine = portal(requester)
    listing = mine.get("/help/requests/").content.decode()
    assert all(code in listing for code in CODES.values())
    assert "foxtrotq" not in listing
    detail = mine.get(f"/help/requests/{world.tickets['own_team'].pk}/").content.decode()
    assert "alphaq public reply" in detail and "hotelq note" not in detail
    assert mine.get(f"/help/requests/{stranger_ticket.pk}/").status_code == 404

    theirs = portal(stranger_ticket.requester)
    listing = theirs.get("/help/requests/").content.decode()
    assert "foxtrotq" in listing
    assert not any(code in listing for code in CODES.values())
    assert theirs.get(f"/help/requests/{world.tickets['own_team'].pk}/").status_code == 404


@pytest.mark.parametrize("role", ROLES)
def test_a_ticket_change_is_pushed_to_exactly_the_workspaces_that_may_see_it(
    world, role, monkeypatch
):
    """The groups an agent's workspace socket joins (the consumer's own code) against the groups a
    ticket's change is pushed to (the live inbox's own code): they meet exactly for the tickets
    the role may see. (The `ticket.<id>` group is joined only after access_ticket.)"""
    from caredesk.channels.chat import realtime_inbox
    from caredesk.channels.chat.consumers import AgentConsumer
    from caredesk.tickets.changes import TicketChange

    consumer = AgentConsumer()
    consumer.agent = world.agents[role]
    joined, _ = consumer._initial()
    sent: list = []
    monkeypatch.setattr(realtime_inbox, "send_batch", lambda messages: sent.extend(messages))
    for key, ticket in world.tickets.items():
        sent.clear()
        # A change announced without its audience fields: the live inbox reads them.
        realtime_inbox.push_changes(
            [TicketChange(ticket.pk, [], ["priority_changed"], [{}], "agent", ticket.channel)]
        )
        [(groups, _payload)] = sent
        told = set(groups) - {f"ticket.{ticket.pk}"}
        assert bool(told & set(joined)) == (key in SEES[role]), (role, key, told, joined)
