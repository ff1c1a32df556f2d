"""Automatic escalation on negative sentiment: a trigger condition on the customer's mood."""

import pytest

from caredesk.assist.sentiment import score
from caredesk.automation import services as automation
from caredesk.automation.models import Trigger
from caredesk.tickets.models import EventKind, Ticket
from caredesk.tickets.services import Actor, post_message
from tests import factories

pytestmark = pytest.mark.django_db

ANGRY = "This is the third time. I am furious, your service is terrible and useless!"


def test_scores_run_from_negative_to_positive():
    assert score(ANGRY) < -0.5
    assert score("Thank you so much, that works great!") > 0.5
    assert score("Where is parcel 123?") == 0.0
    assert score("") == 0.0


@pytest.fixture
def escalate_upset_customers():
    return automation.save_trigger(
        Trigger(
            name="Upset customer",
            events=["created", "message_added"],
            conditions=[{"field": "sentiment", "op": "lte", "value": -0.5}],
            actions=[{"type": "escalate", "value": "negative sentiment"}],
        )
    )


def escalations(ticket):
    return list(ticket.events.filter(kind=EventKind.ESCALATED))


def test_an_upset_customer_is_escalated_at_once(
    personas, escalate_upset_customers, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        upset = factories.ticket(team=personas.billing, body=ANGRY)
        calm = factories.ticket(team=personas.billing, body="Could you check my invoice?")
    (event,) = escalations(upset)
    assert event.data["reason"] == "Upset customer: negative sentiment"
    assert event.data["to_tier"] == "mid"
    assert Ticket.objects.get(pk=upset.pk).assignee.tier in ("mid", "lead")
    assert escalations(calm) == []


def test_a_later_angry_reply_escalates(
    personas, escalate_upset_customers, django_capture_on_commit_callbacks
):
    ticket = factories.ticket(team=personas.billing, body="Hello, my order is late.")
    with django_capture_on_commit_callbacks(execute=True):
        post_message(Actor.of_customer(ticket.requester), ticket, body_text=ANGRY)
    assert len(escalations(ticket)) == 1


def test_what_agents_write_does_not_count(
    personas, escalate_upset_customers, django_capture_on_commit_callbacks
):
    ticket = factories.ticket(team=personas.billing, body="Hello, my order is late.")
    with django_capture_on_commit_callbacks(execute=True):
        post_message(personas.alice, ticket, body_text=f"Customer said: {ANGRY}", internal=True)
    assert escalations(ticket) == []
