"""The re-routing pass decides in memory and writes in bulk: same decisions as routing one ticket
at a time, a query count that does not grow with the queue, the same events as `assign`."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from caredesk.accounts.models import Presence, Skill, Tier
from caredesk.routing import services as routing
from caredesk.routing.models import RoutingMethod, SkillRule, TeamRouting
from caredesk.tickets.models import EventKind, Status, Ticket, TicketEvent
from caredesk.tickets.services import PlannedAssignment, assign, assign_many
from tests import factories

pytestmark = pytest.mark.django_db


def floor_of(team, *, count=6, capacity=50):
    """Agents with a spread of tiers, skills and languages, all online."""
    refunds, _ = Skill.objects.get_or_create(name="refunds")
    agents = []
    for n in range(count):
        agent = factories.agent(
            teams=[team],
            tier=[Tier.JUNIOR, Tier.MID, Tier.SENIOR][n % 3],
            presence=Presence.ONLINE,
            capacity=capacity,
            languages=["en", "de"] if n % 2 else ["en"],
        )
        if n % 3 != 0:
            agent.skills.add(refunds)
        agents.append(agent)
    return agents


def queue_of(team, count, *, offset=0):
    # WhatsApp weighs what a chat weighs; live chats themselves are offered by the chat channel,
    # never by the pass.
    channels = ["email", "whatsapp", "phone", "web"]
    return [
        factories.ticket(
            team=team,
            channel=channels[(n + offset) % 4],
            language=["en", "de"][(n + offset) % 2],
            tags=["refund"] if (n + offset) % 3 == 0 else [],
            category="billing" if (n + offset) % 5 == 0 else "",
            priority=(n + offset) % 4,
        )
        for n in range(count)
    ]


@pytest.fixture
def rules():
    refunds, _ = Skill.objects.get_or_create(name="refunds")
    SkillRule.objects.create(field="tag", value="refund", skill=refunds)
    SkillRule.objects.create(field="category", value="billing", min_tier=Tier.MID)


@pytest.mark.parametrize("method", [m for m, _ in RoutingMethod.choices])
def test_the_pass_decides_as_routing_one_ticket_after_another(personas, rules, method):
    TeamRouting.objects.create(team=personas.technical, method=method)
    agents = floor_of(personas.technical, capacity=12)
    factories.ticket(team=personas.technical, assignee=agents[2])  # some load already
    queue_of(personas.technical, 30)
    methods = {personas.technical.pk: method}
    queue = routing.queued_tickets(list(methods), 1000)
    planned = {
        ticket.pk: agent.pk
        for ticket, agent, _ in routing.plan_assignments(routing.RoutingFloor.load(methods), queue)
    }
    one_by_one = {}
    for facts in queue:
        agent = routing.route(Ticket.objects.get(pk=facts.pk))
        if agent is not None:
            one_by_one[facts.pk] = agent.pk
    assert planned == one_by_one
    assert 0 < len(planned) < len(queue)  # capacity ran out part-way: that is compared too


def test_the_pass_query_count_does_not_grow_with_the_queue(personas, rules):
    TeamRouting.objects.create(team=personas.technical, method=RoutingMethod.LEAST_LOADED)
    floor_of(personas.technical)
    counts = []
    for size in (4, 40):
        queue_of(personas.technical, size, offset=size)
        with CaptureQueriesContext(connection) as queries:
            result = routing.reroute_pass()
        assert result["assigned"] == size
        counts.append(len(queries.captured_queries))
    assert counts[0] == counts[1]


def test_the_pass_stays_within_a_fixed_number_of_queries(
    personas, rules, django_assert_max_num_queries
):
    TeamRouting.objects.create(team=personas.technical, method=RoutingMethod.ROUND_ROBIN)
    floor_of(personas.technical)
    queue_of(personas.technical, 60)
    with django_assert_max_num_queries(30):
        assert routing.reroute_pass()["assigned"] == 60


def test_round_robin_pass_shares_the_queue_evenly(personas):
    TeamRouting.objects.create(team=personas.technical, method=RoutingMethod.ROUND_ROBIN)
    agents = floor_of(personas.technical, count=4)
    for _ in range(12):
        factories.ticket(team=personas.technical, language="en")
    routing.reroute_pass()
    per_agent = [Ticket.objects.filter(assignee=a).count() for a in agents]
    assert per_agent == [3, 3, 3, 3]


def test_least_loaded_pass_fills_the_emptiest_desks_first(personas):
    TeamRouting.objects.create(team=personas.technical, method=RoutingMethod.LEAST_LOADED)
    busy, idle = floor_of(personas.technical, count=2, capacity=10)
    for _ in range(6):
        factories.ticket(team=personas.technical, assignee=busy)
    for _ in range(6):
        factories.ticket(team=personas.technical, channel="email")
    routing.reroute_pass()
    # 6 + 6 tickets over two desks of 10: the idle one takes 6 before the busy one takes more.
    assert Ticket.objects.filter(assignee=idle).count() == 6
    assert Ticket.objects.filter(assignee=busy).count() == 6


def test_the_pass_never_fills_a_desk_beyond_capacity(personas):
    TeamRouting.objects.create(team=personas.technical)
    (agent,) = floor_of(personas.technical, count=1, capacity=10)
    for channel in ["phone", "chat", "chat", "email", "chat", "email", "email"]:
        factories.ticket(team=personas.technical, channel=channel)
    routing.reroute_pass()
    assert routing.load([agent])[agent.pk] <= 10


def test_the_pass_releases_new_tickets_of_agents_who_went_offline(personas):
    TeamRouting.objects.create(team=personas.billing)
    ticket = factories.ticket(team=personas.billing, assignee=personas.bob)
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.NEW)
    personas.alice.presence = Presence.ONLINE
    personas.alice.save()
    assert routing.reroute_pass() == {"released": 1, "assigned": 1}
    ticket.refresh_from_db()
    assert ticket.assignee == personas.alice
    changes = [e.data for e in ticket.events.filter(kind=EventKind.ASSIGNED).order_by("id")]
    assert changes[-2:] == [
        {"old": personas.bob.pk, "new": None},
        {"old": None, "new": personas.alice.pk},
    ]


def test_assign_many_records_the_same_events_as_assign(
    personas, django_capture_on_commit_callbacks
):
    one, many = (factories.ticket(team=personas.billing) for _ in range(2))
    assign(routing.ROUTER, one, personas.alice)
    with django_capture_on_commit_callbacks() as announced:
        done = assign_many(routing.ROUTER, [PlannedAssignment(many.pk, None, personas.alice.pk)])
    assert done == [many.pk] and len(announced) == 1

    def changes(ticket):
        ticket.refresh_from_db()
        events = TicketEvent.objects.filter(
            ticket=ticket, kind__in=[EventKind.ASSIGNED, EventKind.STATUS_CHANGED]
        )
        return (
            ticket.assignee_id,
            ticket.status,
            ticket.version,
            [(e.kind, e.actor_kind, e.data) for e in events.order_by("id")],
        )

    assert changes(one) == changes(many)
    assert changes(many)[1] == Status.OPEN
    # Written as the ORM writes them: comparable, filterable timestamps.
    assert Ticket.objects.filter(pk=many.pk, updated_at__gte=one.updated_at).exists()
    assigned = TicketEvent.objects.get(ticket=many, kind=EventKind.ASSIGNED)
    assert abs(assigned.created_at - Ticket.objects.get(pk=many.pk).updated_at).total_seconds() < 1
    assert TicketEvent.objects.filter(pk=assigned.pk, created_at__gte=one.updated_at).exists()


def test_assign_many_leaves_tickets_that_changed_meanwhile_alone(personas):
    taken = factories.ticket(team=personas.billing)
    assign(personas.bob, taken, personas.bob)
    elsewhere = factories.ticket(team=personas.technical)
    solved = factories.ticket(team=personas.billing)
    Ticket.objects.filter(pk=solved.pk).update(status=Status.SOLVED)
    done = assign_many(
        routing.ROUTER,
        [
            PlannedAssignment(taken.pk, None, personas.alice.pk),  # bob took it since
            PlannedAssignment(elsewhere.pk, None, personas.alice.pk),  # not alice's team
            PlannedAssignment(solved.pk, None, personas.alice.pk),
        ],
    )
    assert done == []
    assert Ticket.objects.get(pk=taken.pk).assignee == personas.bob
    assert not TicketEvent.objects.filter(
        ticket_id__in=[elsewhere.pk, solved.pk], kind=EventKind.ASSIGNED
    ).exists()


def test_routing_one_ticket_reads_the_floor_in_a_fixed_number_of_queries(personas, rules):
    """Push routing of one new ticket: the ticket with its team's routing, the floor (members
    with their last assignment, skills, load, rules), the tags, then the assignment."""
    TeamRouting.objects.create(team=personas.technical, method=RoutingMethod.LEAST_LOADED)
    counts = []
    for agents in (2, 12):
        floor_of(personas.technical, count=agents)
        ticket = factories.ticket(team=personas.technical, tags=["refund"], language="en")
        Ticket.objects.filter(pk=ticket.pk).update(assignee=None, status=Status.NEW)
        with CaptureQueriesContext(connection) as queries:
            assert routing.route(ticket) is not None
        counts.append(len(queries.captured_queries))
    # 12 statements and 4 savepoints (route and assign are each atomic).
    assert counts[0] == counts[1] <= 16


def test_assign_many_applies_the_rule_of_check_assign(personas):
    """Inactive agents take nothing; admins may take tickets of teams they are not in."""
    from caredesk.accounts.models import User

    for_bob, for_admin = (factories.ticket(team=personas.billing) for _ in range(2))
    User.objects.filter(pk=personas.bob.pk).update(is_active=False)
    done = assign_many(
        routing.ROUTER,
        [
            PlannedAssignment(for_bob.pk, None, personas.bob.pk),
            PlannedAssignment(for_admin.pk, None, personas.admin.pk),
        ],
    )
    assert done == [for_admin.pk]
    assert Ticket.objects.get(pk=for_admin.pk).assignee == personas.admin
    assert Ticket.objects.get(pk=for_bob.pk).assignee is None
