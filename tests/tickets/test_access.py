"""The one visibility rule: the queryset filter and the per-object check come from the same
definition, so they agree on every combination of role and ticket; the customer timeline is read
within the rule before its limit."""

import pytest
from django.db.models import Q

from caredesk.accounts.models import Role, Tier
from caredesk.accounts.services import create_token
from caredesk.tickets.access import Viewer, can_see, holds, rule, visible_tickets
from caredesk.tickets.models import Ticket
from caredesk.tickets.services import assign, post_message, set_following, update_ticket
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_filter_and_the_check_agree_for_every_role_and_ticket(personas):
    other_lead = factories.agent(role=Role.LEAD, tier=Tier.LEAD, teams=[personas.technical])
    tickets = []
    for team in (personas.billing, personas.technical, None):
        for restricted in (False, True):
            for assignee in (None, personas.bob, personas.carol):
                if assignee is not None and team is not None and team not in assignee.teams.all():
                    continue
                ticket = factories.ticket(team=team)
                if assignee is not None:
                    assign(personas.admin, ticket, assignee)
                if restricted:
                    update_ticket(personas.admin, ticket, {"restricted": True})
                tickets.append(ticket)
    followed = factories.ticket(team=personas.technical)
    set_following(personas.admin, followed, personas.bob, True)
    followed_restricted = factories.ticket(team=personas.technical)
    update_ticket(personas.admin, followed_restricted, {"restricted": True})
    set_following(personas.admin, followed_restricted, personas.bob, True)
    tickets += [followed, followed_restricted]
    agents = [personas.admin, personas.lead, personas.alice, personas.bob, personas.carol]
    for agent in [*agents, other_lead]:
        listed = set(visible_tickets(agent).values_list("pk", flat=True))
        for ticket in tickets:
            ticket = Ticket.objects.get(pk=ticket.pk)
            assert can_see(agent, ticket) == (ticket.pk in listed), (agent.name, ticket.pk)
    # And the rule is the one the docs state: a few cells spelled out.
    followed_restricted.refresh_from_db()
    assert can_see(personas.bob, followed) and not can_see(personas.bob, followed_restricted)
    assert can_see(other_lead, followed_restricted)


def test_the_rule_refuses_to_evaluate_a_lookup_it_does_not_know():
    with pytest.raises(ValueError, match="Unsupported lookup"):
        holds(Q(team_id__gt=3), lambda name: 1)
    assert holds(rule(Viewer(1, True, True, ())), lambda name: None)  # admins: everything


def test_the_customer_timeline_is_scoped_before_its_limit(client, personas):
    """Out-of-scope messages must not crowd the in-scope ones out of the first page."""
    requester = factories.customer()
    mine = factories.ticket(requester=requester, team=personas.billing, body="billing question")
    other = factories.ticket(requester=requester, team=personas.technical, body="technical one")
    for n in range(12):
        post_message(personas.carol, other, body_text=f"technical reply {n}")
    token = create_token(personas.bob, scope="read").token
    items = client.get(
        f"/api/v1/customers/{requester.pk}/timeline?limit=5",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    ).json()
    assert [item["ticket_id"] for item in items] == [mine.pk]
    assert items[0]["excerpt"] == "billing question"
