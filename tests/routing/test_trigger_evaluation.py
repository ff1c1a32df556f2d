"""Trigger evaluation: compiled once per change of the rules, indexed by event kind, no query per
rule, and a rule saved or switched off applies to the very next event."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from caredesk.automation import services as automation
from caredesk.automation.models import Trigger
from caredesk.tickets.models import EventKind, Ticket, TicketEvent
from caredesk.tickets.services import post_message
from tests import factories

pytestmark = pytest.mark.django_db


def rules(count, *, events=("message_added",)):
    for n in range(count):
        automation.save_trigger(
            Trigger(
                name=f"Never {n}",
                events=list(events),
                conditions=[
                    {"field": "priority", "op": "is_not", "value": "low"},
                    {"field": "tags", "op": "is", "value": f"never-{n}"},
                    {"field": "body", "op": "contains", "value": f"quasar-{n}"},
                ],
                actions=[{"type": "add_tags", "value": ["fired"]}],
                position=n,
            )
        )


def message_event(personas):
    ticket = factories.ticket(team=personas.billing, tags=["shipping"])
    post_message(personas.alice, ticket, body_text="Your parcel left the warehouse.")
    event = TicketEvent.objects.filter(ticket=ticket, kind=EventKind.MESSAGE_ADDED).last()
    return ticket, event


def evaluate(ticket, event, kinds=None, **told):
    """Evaluate the triggers for the event as its change announces it (who acted, which
    messages), unless the test tells otherwise."""
    told.setdefault("actor_kind", event.actor_kind)
    told.setdefault("messages", [(event.data["message_id"], event.data.get("author_kind"))])
    return automation.on_ticket_event(ticket.pk, kinds or [event.kind], [event.pk], **told)


def queries_for(ticket, event):
    automation.active_triggers()  # compiled before, as in a running process
    with CaptureQueriesContext(connection) as queries:
        fired = evaluate(ticket, event)
    assert fired == 0
    return len(queries.captured_queries)


def test_evaluation_queries_do_not_grow_with_the_number_of_rules(personas):
    ticket, event = message_event(personas)
    rules(3)
    few = queries_for(ticket, event)
    rules(60)
    assert queries_for(ticket, event) == few <= 5


def test_an_event_no_rule_listens_to_costs_at_most_the_freshness_check(personas):
    rules(50, events=("status_changed",))
    ticket, event = message_event(personas)
    assert queries_for(ticket, event) <= 1


def test_a_saved_rule_applies_to_the_next_event(personas):
    ticket, event = message_event(personas)
    rules(5)
    assert evaluate(ticket, event) == 0
    catch_all = automation.save_trigger(
        Trigger(
            name="Parcel",
            events=["message_added"],
            conditions=[{"field": "body", "op": "contains", "value": "parcel"}],
            actions=[{"type": "add_tags", "value": ["parcel"]}],
        )
    )
    assert evaluate(ticket, event) == 1
    assert "parcel" in Ticket.objects.get(pk=ticket.pk).tags.values_list("name", flat=True)
    catch_all.active = False
    automation.save_trigger(catch_all)
    assert evaluate(ticket, event) == 0


def test_rules_fire_in_position_order_across_event_kinds(personas):
    ticket, event = message_event(personas)
    for position, (name, kinds) in enumerate(
        [("first", ["message_added"]), ("second", ["created", "message_added"])]
    ):
        automation.save_trigger(
            Trigger(
                name=name,
                events=kinds,
                conditions=[],
                actions=[{"type": "note", "value": name}],
                position=position,
            )
        )
    fired = evaluate(ticket, event, [EventKind.CREATED, EventKind.MESSAGE_ADDED])
    assert fired == 2
    notes = list(ticket.messages.filter(internal=True).order_by("id"))
    assert [n.body_text for n in notes] == ["first", "second"]


def test_later_rules_see_what_earlier_rules_changed(personas):
    ticket, event = message_event(personas)
    automation.save_trigger(
        Trigger(
            name="tag",
            events=["message_added"],
            actions=[{"type": "add_tags", "value": ["escalate-me"]}],
            position=0,
        )
    )
    automation.save_trigger(
        Trigger(
            name="then urgent",
            events=["message_added"],
            conditions=[{"field": "tags", "op": "is", "value": "escalate-me"}],
            actions=[{"type": "set", "field": "priority", "value": "urgent"}],
            position=1,
        )
    )
    assert evaluate(ticket, event) == 2
    assert Ticket.objects.get(pk=ticket.pk).priority_name == "urgent"


def test_an_event_no_rule_can_fire_for_reads_only_the_ticket(personas):
    """Rules whose conditions on the ticket fail need neither the events nor the messages."""
    ticket, event = message_event(personas)
    for n in range(20):
        automation.save_trigger(
            Trigger(
                name=f"Urgent parcels {n}",
                events=["message_added"],
                conditions=[
                    {"field": "priority", "op": "is", "value": "urgent"},
                    {"field": "body", "op": "contains", "value": "parcel"},
                ],
                actions=[{"type": "add_tags", "value": ["fired"]}],
            )
        )
    automation.active_triggers()
    with CaptureQueriesContext(connection) as queries:
        assert evaluate(ticket, event) == 0
    read = " ".join(q["sql"] for q in queries.captured_queries)
    # The freshness check of the compiled rules (made on every event inside a transaction, as
    # here) and the ticket's fields; no events, no messages.
    assert len(queries.captured_queries) == 2
    assert "tickets_ticketevent" not in read and "tickets_message" not in read
    # Once the ticket part holds, the body is read and decides.
    Ticket.objects.filter(pk=ticket.pk).update(priority=3)
    assert evaluate(ticket, event) == 20


def test_a_persons_event_ends_an_automation_chain(personas):
    from django.core.cache import cache

    ticket, event = message_event(personas)
    rules(3)
    key = f"caredesk:trigger-chain:{ticket.pk}"
    cache.set(key, automation.MAX_CHAIN)
    # An automated actor keeps the count (never lowered: the guard holds); a person ends it.
    evaluate(ticket, event, actor_kind="system")
    assert cache.get(key) == automation.MAX_CHAIN
    evaluate(ticket, event, actor_kind="bot")
    assert cache.get(key) == automation.MAX_CHAIN
    evaluate(ticket, event, actor_kind="agent")
    assert cache.get(key) is None


def test_the_receiver_is_told_who_acted_and_on_which_messages(
    personas, django_capture_on_commit_callbacks, monkeypatch
):
    seen = []
    rules(1)  # a rule listens to messages: the change is handed on
    monkeypatch.setattr(
        automation,
        "on_ticket_event",
        lambda *args, **kwargs: seen.append((kwargs["actor_kind"], kwargs["messages"])),
    )
    ticket = factories.ticket(team=personas.billing)
    with django_capture_on_commit_callbacks(execute=True):
        post_message(personas.alice, ticket, body_text="On it.")
    reply = ticket.messages.order_by("-id").first()
    assert seen == [("agent", [(reply.pk, "agent")])]


def test_told_who_acted_the_rules_read_no_events(personas):
    ticket, event = message_event(personas)
    automation.save_trigger(
        Trigger(
            name="Parcel",
            events=["message_added"],
            conditions=[{"field": "body", "op": "contains", "value": "parcel"}],
            actions=[{"type": "add_tags", "value": ["parcel"]}],
        )
    )
    automation.active_triggers()
    with CaptureQueriesContext(connection) as queries:
        fired = automation.on_ticket_event(
            ticket.pk,
            [event.kind],
            [event.pk],
            actor_kind="agent",
            messages=[(event.data["message_id"], "agent")],
        )
    assert fired == 1
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert not any('FROM "tickets_ticketevent"' in sql for sql in reads)
