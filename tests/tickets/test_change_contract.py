"""The change contract: one typed description per committed batch, one receiver per app, run in a
fixed order, each guarded, and the same order in production as under the tests' capture."""

import logging

import pytest

from caredesk.routing.models import TeamRouting
from caredesk.tickets import changes as contract
from caredesk.tickets.models import EventKind, Ticket
from caredesk.tickets.services import post_message
from tests import factories


@pytest.fixture
def heard():
    """Every batch dispatched while the test runs, as the receivers see it (first in order)."""
    batches: list[list[contract.TicketChange]] = []
    # After every app, routing included: a re-entrant dispatch would show it ASSIGNED first.
    contract.register("test-heard", batches.append, order=10_000)
    yield batches
    contract.unregister("test-heard")


def auto_assigning(personas):
    TeamRouting.objects.update_or_create(team=personas.billing, defaults={"auto_assign": True})
    personas.alice.presence = "online"
    personas.alice.save(update_fields=["presence"])


def kinds_heard(batches, ticket_id):
    return [
        kind for batch in batches for c in batch if c.ticket_id == ticket_id for kind in c.kinds
    ]


def test_every_app_has_one_receiver_and_routing_runs_last():
    names = contract.receivers()
    assert names[-1] == "routing"
    assert {"sla", "automation", "chat-widget", "workspace-live"} <= set(names)
    assert len(names) == len(set(names))
    # Live delivery before the clocks and the triggers.
    assert names.index("chat-widget") < names.index("sla") < names.index("automation")


def test_a_failing_receiver_is_logged_and_the_others_still_run(caplog):
    seen = []

    def broken(batch):
        raise RuntimeError("receiver bug")

    contract.register("test-broken", broken, order=1)
    contract.register("test-after", seen.append, order=2)
    change = contract.TicketChange(1, [1], [EventKind.CREATED], [{}], "system", "email")
    try:
        with caplog.at_level(logging.ERROR, logger="caredesk.tickets.changes"):
            contract.dispatch([change])
    finally:
        contract.unregister("test-broken")
        contract.unregister("test-after")
    assert seen == [[change]]
    assert "test-broken failed" in caplog.text and "receiver bug" in caplog.text


def test_a_batch_announced_by_a_receiver_waits_until_the_current_batch_is_done():
    order = []
    inner = contract.TicketChange(2, [2], [EventKind.ASSIGNED], [{}], "system", "email")
    outer = contract.TicketChange(1, [1], [EventKind.CREATED], [{}], "customer", "email")

    def first(batch):
        order.append(("first", batch[0].ticket_id))
        if batch[0].ticket_id == 1:
            contract.dispatch([inner])  # as routing's own commit does, inside its receiver

    contract.register("test-first", first, order=1)
    contract.register("test-second", lambda b: order.append(("second", b[0].ticket_id)), order=2)
    try:
        contract.dispatch([outer])
    finally:
        contract.unregister("test-first")
        contract.unregister("test-second")
    assert order == [("first", 1), ("second", 1), ("first", 2), ("second", 2)]


def test_a_rolled_back_change_announces_nothing(personas, heard):
    from django.db import transaction

    ticket = factories.ticket(team=personas.billing)
    heard.clear()
    with pytest.raises(RuntimeError), transaction.atomic():
        post_message(personas.alice, ticket, body_text="Never sent")
        raise RuntimeError("roll back")
    assert heard == []


def test_a_change_carries_what_the_receivers_need(
    personas, heard, django_capture_on_commit_callbacks
):
    ticket = factories.ticket(team=personas.billing)
    heard.clear()
    with django_capture_on_commit_callbacks(execute=True):
        post_message(personas.alice, ticket, body_text="On it.")
        post_message(personas.alice, ticket, body_text="Internal", internal=True)
    reply, note = ticket.messages.order_by("-id")[1], ticket.messages.order_by("-id")[0]
    first = heard[0][0]
    assert first.actor_kind == "agent" and first.channel == ticket.channel
    assert first.public_message_ids == [reply.pk]
    assert first.fields == {
        "team_id": personas.billing.pk,
        "assignee_id": ticket.assignee_id,
        "restricted": False,
        "channel": ticket.channel,
    }
    assert heard[1][0].public_message_ids == [] and heard[1][0].messages == [(note.pk, "agent")]


@pytest.mark.django_db(transaction=True)
def test_every_receiver_sees_created_before_assigned_in_production(personas, heard):
    """Real commits (no capture): routing assigns inside its receiver and commits; its ASSIGNED
    is dispatched only after CREATED reached every receiver."""
    auto_assigning(personas)
    ticket = factories.ticket(team=personas.billing)
    assert Ticket.objects.get(pk=ticket.pk).assignee_id == personas.alice.pk
    kinds = kinds_heard(heard, ticket.pk)
    assert EventKind.CREATED in kinds and EventKind.ASSIGNED in kinds
    assert kinds.index(EventKind.CREATED) < kinds.index(EventKind.ASSIGNED)


def test_the_same_order_under_the_tests_capture(
    personas, heard, django_capture_on_commit_callbacks
):
    auto_assigning(personas)
    with django_capture_on_commit_callbacks(execute=True):
        ticket = factories.ticket(team=personas.billing)
    assert Ticket.objects.get(pk=ticket.pk).assignee_id == personas.alice.pk
    kinds = kinds_heard(heard, ticket.pk)
    assert kinds.index(EventKind.CREATED) < kinds.index(EventKind.ASSIGNED)
