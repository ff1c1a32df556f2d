"""Routing, SLA clocks, escalation, macros, snippets, triggers and time-based automations."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from caredesk.accounts.models import Presence, Skill
from caredesk.automation import services as automation
from caredesk.automation.models import Automation, CannedResponse, Macro, Trigger
from caredesk.core.errors import PermissionDenied, ValidationFailed
from caredesk.routing import services as routing
from caredesk.routing.models import RoutingMethod, SkillRule, TeamRouting
from caredesk.sla import services as sla
from caredesk.sla.models import SlaPolicy, TicketSla
from caredesk.tickets.models import EventKind, Status, Ticket
from caredesk.tickets.services import change_status, post_message
from tests import factories

pytestmark = pytest.mark.django_db


def online(*agents, capacity=10):
    for agent in agents:
        agent.presence = Presence.ONLINE
        agent.capacity = capacity
        agent.save()


# --- routing --------------------------------------------------------------------------------


def test_push_routing_assigns_least_loaded_qualified_online_agent(
    personas, django_capture_on_commit_callbacks
):
    TeamRouting.objects.create(team=personas.billing, method=RoutingMethod.LEAST_LOADED)
    online(personas.alice, personas.bob)
    busy = factories.ticket(team=personas.billing)
    routing_assign = routing.assign if hasattr(routing, "assign") else None
    assert routing_assign is not None
    routing.assign(routing.ROUTER, busy, personas.alice)
    with django_capture_on_commit_callbacks(execute=True):
        ticket = factories.ticket(team=personas.billing)
    assert Ticket.objects.get(pk=ticket.pk).assignee == personas.bob


def test_skills_language_and_tier_are_required(personas):
    TeamRouting.objects.create(team=personas.billing)
    online(personas.alice, personas.bob, personas.lead)
    refunds = Skill.objects.create(name="refunds")
    personas.bob.skills.add(refunds)
    personas.bob.languages = ["en", "de"]
    personas.bob.save()
    SkillRule.objects.create(field="tag", value="refund", skill=refunds)
    german = factories.ticket(team=personas.billing, tags=["refund"], language="de")
    assert routing.route(german) == personas.bob
    SkillRule.objects.create(field="vip", min_tier="senior")
    vip = factories.ticket(team=personas.billing, requester=factories.customer(vip=True))
    assert routing.route(vip) == personas.lead  # the only one at senior tier or above


def test_capacity_is_shared_across_channels_and_offline_agents_get_nothing(personas):
    TeamRouting.objects.create(team=personas.billing)
    online(personas.alice, capacity=10)
    personas.bob.presence = Presence.OFFLINE
    personas.bob.save()
    personas.lead.presence = Presence.OFFLINE
    personas.lead.save()
    chats = [factories.ticket(team=personas.billing, channel="whatsapp") for _ in range(4)]
    assigned = [routing.route(t) for t in chats]
    # 3 conversations fill an agent's capacity of 10 async units (each weighs 10/3, as a chat).
    assert assigned[:3] == [personas.alice] * 3 and assigned[3] is None


def test_round_robin_rotates(personas):
    TeamRouting.objects.create(team=personas.billing, method=RoutingMethod.ROUND_ROBIN)
    online(personas.alice, personas.bob, personas.lead, capacity=50)
    picks = [routing.route(factories.ticket(team=personas.billing)).pk for _ in range(6)]
    assert (
        picks[:3] != picks[1:4]
        and sorted(picks[:3]) == sorted(picks[3:6])
        and len(set(picks[:3])) == 3
    )


def test_next_ticket_hands_the_highest_priority_qualified_ticket(personas):
    low = factories.ticket(team=personas.billing, priority=0)
    urgent = factories.ticket(team=personas.billing, priority=3)
    factories.ticket(team=personas.technical, priority=3)
    assert routing.next_ticket(personas.alice) == urgent
    assert routing.next_ticket(personas.alice) == low
    assert routing.next_ticket(personas.alice) is None


def test_reroute_pass_offers_stalled_tickets_again(personas):
    TeamRouting.objects.create(team=personas.billing)
    stalled = factories.ticket(team=personas.billing)
    assert routing.reroute_pass()["assigned"] == 0  # nobody online
    online(personas.alice)
    assert routing.reroute_pass()["assigned"] == 1
    assert Ticket.objects.get(pk=stalled.pk).assignee == personas.alice


def test_deactivating_an_agent_leaves_no_ticket_orphaned(personas):
    TeamRouting.objects.create(team=personas.billing)
    online(personas.bob)
    tickets = [factories.ticket(team=personas.billing) for _ in range(3)]
    for t in tickets:
        routing.assign(routing.ROUTER, t, personas.alice)
    with pytest.raises(PermissionDenied):
        routing.deactivate_agent(personas.lead, personas.alice)
    result = routing.deactivate_agent(personas.admin, personas.alice)
    assert result == {"unassigned": 3, "rerouted": 3}
    assert set(Ticket.objects.values_list("assignee", flat=True)) == {personas.bob.pk}


# --- escalation -----------------------------------------------------------------------------


def test_tier_escalation_moves_up_one_tier_with_an_event(personas):
    ticket = factories.ticket(team=personas.billing)
    routing.assign(routing.ROUTER, ticket, personas.bob)  # junior
    escalated = routing.escalate(personas.bob, ticket, reason="customer threatens to churn")
    assert (
        escalated.assignee.tier in ("mid", "senior", "lead") and escalated.assignee != personas.bob
    )
    event = escalated.events.get(kind=EventKind.ESCALATED)
    assert event.data["from_tier"] == "junior" and event.data["to_tier"] == "mid"
    assert (
        event.data["reason"] == "customer threatens to churn" and event.actor_agent == personas.bob
    )


def test_functional_escalation_to_another_team(personas):
    ticket = factories.ticket(team=personas.billing)
    escalated = routing.escalate(
        personas.alice, ticket, reason="it's a bug", to_team=personas.technical
    )
    assert escalated.team == personas.technical and escalated.assignee == personas.carol
    with pytest.raises(ValidationFailed):
        routing.escalate(personas.alice, ticket, reason=" ")


# --- SLA ------------------------------------------------------------------------------------


def test_sla_clocks_start_pause_resume_and_clear(personas, django_capture_on_commit_callbacks):
    SlaPolicy.objects.create(
        name="Urgent",
        conditions={"priority": ["urgent"]},
        first_response_minutes=60,
        resolution_minutes=480,
        pause_statuses=["pending"],
    )
    with django_capture_on_commit_callbacks(execute=True):
        ticket = factories.ticket(team=personas.billing, priority=3)
    clock = TicketSla.objects.get(ticket=ticket)
    assert clock.policy.name == "Urgent" and clock.first_response_due is not None
    assert clock.next_due == clock.first_response_due
    with django_capture_on_commit_callbacks(execute=True):
        post_message(personas.alice, ticket, body_text="On it", status_after=Status.PENDING)
    clock.refresh_from_db()
    assert (
        clock.first_response_due is None
        and clock.paused_since is not None
        and clock.next_due is None
    )
    resolution_before = clock.resolution_due
    TicketSla.objects.filter(pk=clock.pk).update(paused_since=timezone.now() - timedelta(hours=2))
    with django_capture_on_commit_callbacks(execute=True):
        change_status(personas.alice, ticket, Status.OPEN)
    clock.refresh_from_db()
    assert (
        clock.paused_since is None and clock.resolution_due > resolution_before
    )  # the pause did not count
    with django_capture_on_commit_callbacks(execute=True):
        change_status(personas.alice, ticket, Status.SOLVED)
    clock.refresh_from_db()
    assert clock.next_due is None


def test_warnings_then_breach_events(personas, django_capture_on_commit_callbacks):
    SlaPolicy.objects.create(name="All", first_response_minutes=60, warn_before_minutes=30)
    with django_capture_on_commit_callbacks(execute=True):
        ticket = factories.ticket(team=personas.billing)
    due = TicketSla.objects.get(ticket=ticket).first_response_due
    assert sla.check_clocks(now=due - timedelta(minutes=45)) == {"warned": 0, "breached": 0}
    assert sla.check_clocks(now=due - timedelta(minutes=10)) == {"warned": 1, "breached": 0}
    assert sla.check_clocks(now=due + timedelta(minutes=1)) == {"warned": 0, "breached": 1}
    assert sla.check_clocks(now=due + timedelta(minutes=2)) == {"warned": 0, "breached": 0}
    states = list(ticket.events.filter(kind=EventKind.SLA).values_list("data__state", flat=True))
    assert states == ["warning", "breached"]
    assert list(sla.overdue(Ticket.objects.all(), now=due + timedelta(minutes=1))) == [ticket]


def test_unknown_sla_condition_is_refused():
    with pytest.raises(ValidationFailed):
        sla.validate_conditions({"moon_phase": ["full"]})


# --- macros, snippets, triggers, automations ------------------------------------------------


def test_macro_with_unknown_placeholder_is_refused_at_save():
    with pytest.raises(ValidationFailed) as info:
        automation.save_macro(Macro(name="bad", reply="Hi {{customer.shoe_size}}"))
    assert info.value.code == "unknown_placeholder"


def test_macro_applies_reply_and_changes(personas):
    macro = automation.save_macro(
        Macro(
            name="Refund",
            reply="Hello {{customer.first_name}}, ticket {{ticket.number}} is refunded. {{agent.name}}",
            changes={"status": "pending", "tags": ["refund"]},
        )
    )
    ticket = factories.ticket(
        team=personas.billing, requester=factories.customer(name="Robin Hood")
    )
    updated = automation.apply_macro(personas.alice, ticket, macro)
    reply = updated.messages.order_by("-id").first()
    assert reply.body_text == f"Hello Robin, ticket {ticket.pk} is refunded. Alice"
    assert updated.status == Status.PENDING and "refund" in updated.tags.values_list(
        "name", flat=True
    )
    private = automation.save_macro(Macro(name="Mine", owner=personas.bob, reply="x"))
    with pytest.raises(ValidationFailed):
        automation.apply_macro(personas.alice, ticket, private)


def test_snippet_shortcuts_expand(personas):
    automation.save_snippet(
        CannedResponse(
            shortcut="refund", title="Refund", body="Refund sent, {{customer.first_name}}."
        )
    )
    ticket = factories.ticket(requester=factories.customer(name="Sam Jones"))
    assert (
        automation.expand_snippets("Hi! ::refund Bye", ticket, personas.alice)
        == "Hi! Refund sent, Sam. Bye"
    )


def test_trigger_fires_on_matching_events(personas, django_capture_on_commit_callbacks):
    automation.save_trigger(
        Trigger(
            name="Outage",
            events=["created"],
            conditions=[{"field": "body", "op": "contains", "value": "outage"}],
            actions=[
                {"type": "set", "field": "priority", "value": "urgent"},
                {"type": "add_tags", "value": ["outage"]},
            ],
        )
    )
    with django_capture_on_commit_callbacks(execute=True):
        hit = factories.ticket(team=personas.billing, body="There is an outage in Berlin")
        miss = factories.ticket(team=personas.billing, body="All good")
    assert Ticket.objects.get(pk=hit.pk).priority_name == "urgent"
    assert Ticket.objects.get(pk=miss.pk).priority_name == "normal"


@pytest.mark.parametrize(
    "trigger",
    [
        Trigger(
            name="a",
            events=["created"],
            conditions=[{"field": "shoe", "op": "is", "value": 1}],
            actions=[{"type": "note", "value": "x"}],
        ),
        Trigger(
            name="b",
            events=["created"],
            conditions=[
                {"field": "priority", "op": "is", "value": "low"},
                {"field": "priority", "op": "is", "value": "high"},
            ],
            actions=[{"type": "note", "value": "x"}],
        ),
        Trigger(name="c", events=["nope"], actions=[{"type": "note", "value": "x"}]),
        Trigger(name="d", events=["created"], actions=[{"type": "launch_rocket"}]),
        Trigger(
            name="e", events=["created"], actions=[{"type": "reply", "value": "{{ticket.colour}}"}]
        ),
    ],
)
def test_invalid_triggers_are_refused_at_save(trigger):
    with pytest.raises(ValidationFailed):
        automation.save_trigger(trigger)


def test_conflicting_triggers_cannot_loop_forever(personas):
    """Two rules that undo each other: the chain of automation-caused events stops after MAX_CHAIN rounds."""
    from django.core.cache import cache

    from caredesk.tickets.models import TicketEvent
    from caredesk.tickets.services import update_ticket

    cache.clear()
    automation.save_trigger(
        Trigger(
            name="up",
            events=["priority_changed"],
            conditions=[{"field": "priority", "op": "is", "value": "low"}],
            actions=[{"type": "set", "field": "priority", "value": "high"}],
        )
    )
    automation.save_trigger(
        Trigger(
            name="down",
            events=["priority_changed"],
            conditions=[{"field": "priority", "op": "is", "value": "high"}],
            actions=[{"type": "set", "field": "priority", "value": "low"}],
        )
    )
    ticket = factories.ticket(team=personas.billing)
    update_ticket(personas.alice, ticket, {"priority": "low"})
    rounds = 0
    while True:
        latest = (
            TicketEvent.objects.filter(ticket=ticket, kind=EventKind.PRIORITY_CHANGED)
            .order_by("-id")
            .first()
        )
        if not automation.on_ticket_event(
            ticket.pk,
            [EventKind.PRIORITY_CHANGED],
            [latest.pk],
            actor_kind=latest.actor_kind,
            messages=[],
        ):
            break
        rounds += 1
        assert rounds <= 20, "the chain did not stop"
    assert rounds == automation.MAX_CHAIN + 1  # the agent's change, then MAX_CHAIN automated rounds


def test_time_based_automation_solves_long_pending_tickets(personas):
    Automation.objects.create(
        name="Close pending after 10 days",
        status=Status.PENDING,
        hours=240,
        actions=[{"type": "set", "field": "status", "value": "solved"}],
    )
    old = factories.ticket(team=personas.billing)
    change_status(personas.alice, old, Status.PENDING)
    recent = factories.ticket(team=personas.billing)
    change_status(personas.alice, recent, Status.PENDING)
    Ticket.objects.filter(pk=old.pk).update(updated_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert automation.run_automations() == 1
    assert Ticket.objects.get(pk=old.pk).status == Status.SOLVED
    assert Ticket.objects.get(pk=recent.pk).status == Status.PENDING


def test_flow_api_escalate_next_macros_and_sla(
    client, personas, django_capture_on_commit_callbacks
):
    import json

    from caredesk.accounts.services import create_token

    headers = {"HTTP_AUTHORIZATION": f"Bearer {create_token(personas.alice).token}"}
    SlaPolicy.objects.create(name="All", first_response_minutes=60)
    with django_capture_on_commit_callbacks(execute=True):
        ticket = factories.ticket(team=personas.billing, priority=3)
    assert client.get(f"/api/v1/tickets/{ticket.pk}/sla", **headers).json()["policy"] == "All"
    pulled = client.post("/api/v1/routing/next", **headers)
    assert pulled.status_code == 200 and pulled.json()["id"] == ticket.pk
    assert client.post("/api/v1/routing/next", **headers).status_code == 204
    macro = automation.save_macro(
        Macro(name="Thanks", reply="Thanks {{customer.first_name}}", changes={"status": "pending"})
    )
    assert [m["name"] for m in client.get("/api/v1/macros", **headers).json()] == ["Thanks"]
    applied = client.post(f"/api/v1/tickets/{ticket.pk}/macros/{macro.pk}/apply", **headers)
    assert applied.status_code == 200 and applied.json()["status"] == "pending"
    escalated = client.post(
        f"/api/v1/tickets/{ticket.pk}/escalate",
        json.dumps({"reason": "needs billing lead", "tier": "lead"}),
        content_type="application/json",
        **headers,
    )
    assert escalated.status_code == 200 and escalated.json()["assignee"]["id"] == personas.lead.pk
    other = factories.ticket(team=personas.technical)
    assert (
        client.post(
            f"/api/v1/tickets/{other.pk}/escalate",
            json.dumps({"reason": "x"}),
            content_type="application/json",
            **headers,
        ).status_code
        == 404
    )


def test_inbox_shows_overdue_tickets(client, personas, django_capture_on_commit_callbacks):
    SlaPolicy.objects.create(name="All", first_response_minutes=1)
    with django_capture_on_commit_callbacks(execute=True):
        ticket = factories.ticket(team=personas.billing, subject="Late one")
    TicketSla.objects.filter(ticket=ticket).update(next_due=timezone.now() - timedelta(minutes=5))
    client.force_login(personas.alice)
    assert "Late one" in client.get("/agent/?view=overdue").content.decode()
    assert "Late one" not in client.get("/agent/?view=due_soon").content.decode()
