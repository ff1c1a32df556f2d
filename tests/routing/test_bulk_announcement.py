"""A bulk change (the routing pass) is announced once for all its tickets: the receivers do
set-based work (a fixed number of queries however many tickets), and decide as they would for each
ticket alone."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from caredesk.channels.chat import realtime_inbox
from caredesk.routing import services as routing
from caredesk.sla import services as sla
from caredesk.sla.models import SlaPolicy, TicketSla
from caredesk.tickets import changes as contract
from caredesk.tickets.changes import TicketChange
from caredesk.tickets.models import EventKind, Status, Ticket, TicketEvent
from caredesk.tickets.services import PlannedAssignment, assign_many
from tests import factories

pytestmark = pytest.mark.django_db


def plan_for(tickets, agent):
    return [PlannedAssignment(t.pk, None, agent.pk) for t in tickets]


def assign_and_hear(tickets, agent, capture_on_commit) -> list[TicketChange]:
    """Assign the tickets in bulk and return what was announced on commit."""
    announced: list[TicketChange] = []
    contract.register("test-announced", announced.extend, order=0)
    try:
        with capture_on_commit(execute=True):
            assign_many(routing.ROUTER, plan_for(tickets, agent))
    finally:
        contract.unregister("test-announced")
    return announced


def changes_of(tickets):
    changes = []
    for ticket in tickets:
        events = list(
            TicketEvent.objects.filter(
                ticket=ticket, kind__in=[EventKind.ASSIGNED, EventKind.STATUS_CHANGED]
            ).order_by("id")
        )
        changes.append(
            TicketChange(
                ticket.pk,
                [e.pk for e in events],
                [e.kind for e in events],
                [e.data for e in events],
                actor_kind="system",
                channel=ticket.channel,
            )
        )
    return changes


def test_assign_many_announces_once_for_all_its_tickets(
    personas, django_capture_on_commit_callbacks
):
    tickets = [factories.ticket(team=personas.billing) for _ in range(3)]
    batches = []
    contract.register("test-batches", batches.append, order=0)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assign_many(routing.ROUTER, plan_for(tickets, personas.alice))
    finally:
        contract.unregister("test-batches")
    assert len(batches) == 1
    assert sorted(c.ticket_id for c in batches[0]) == [t.pk for t in tickets]
    assert all(set(c.kinds) == {EventKind.ASSIGNED, EventKind.STATUS_CHANGED} for c in batches[0])
    # Everything the receivers need comes with the change: who acted, the audience fields.
    assert all(c.actor_kind == "system" and c.fields is not None for c in batches[0])


def test_a_bulk_change_with_new_tickets_still_routes_them(
    personas, django_capture_on_commit_callbacks
):
    from caredesk.routing.models import TeamRouting

    TeamRouting.objects.update_or_create(team=personas.billing, defaults={"auto_assign": True})
    personas.alice.presence = "online"
    personas.alice.save(update_fields=["presence"])
    ticket = factories.ticket(team=personas.billing)
    created = TicketEvent.objects.filter(ticket=ticket, kind=EventKind.CREATED).first()
    assert created is not None and ticket.assignee_id is None
    with django_capture_on_commit_callbacks(execute=True):
        contract.announce_on_commit(
            [
                TicketChange(
                    ticket.pk,
                    [created.pk],
                    [EventKind.CREATED],
                    [created.data],
                    actor_kind="customer",
                    channel=ticket.channel,
                )
            ]
        )
    ticket.refresh_from_db()
    assert ticket.assignee_id is not None


def test_the_live_inbox_reads_a_bulk_change_in_one_query_and_tells_the_same_groups(
    personas, monkeypatch
):
    def sent_for(changes, receive):
        sent = []
        monkeypatch.setattr(realtime_inbox, "send_batch", lambda messages: sent.extend(messages))
        with CaptureQueriesContext(connection) as queries:
            receive(changes)
        return sent, len(queries.captured_queries)

    counts = []
    for size in (2, 12):
        tickets = [factories.ticket(team=personas.billing) for _ in range(size)]
        assign_many(routing.ROUTER, plan_for(tickets, personas.alice))
        changes = changes_of(tickets)
        bulk, count = sent_for(changes, realtime_inbox.push_changes)
        one_by_one, _ = sent_for(changes, lambda c: [realtime_inbox.push_changes([x]) for x in c])
        assert bulk == one_by_one and len(bulk) == size
        assert f"agent.{personas.alice.pk}" in bulk[0][0]
        counts.append(count)
    assert counts == [1, 1]


def test_bulk_clock_moves_only_where_the_change_can_move_a_clock(personas, monkeypatch):
    SlaPolicy.objects.create(
        name="Urgent",
        conditions={"priority": ["urgent"]},
        first_response_minutes=60,
        pause_statuses=["open"],
    )
    SlaPolicy.objects.create(
        name="Normal", conditions={"priority": ["normal"]}, first_response_minutes=240, position=1
    )
    urgent = [factories.ticket(team=personas.billing, priority=3) for _ in range(2)]
    normal = [factories.ticket(team=personas.billing, priority=1) for _ in range(3)]
    for ticket in urgent + normal:
        sla.start(ticket)
    assign_many(routing.ROUTER, plan_for(urgent + normal, personas.alice))
    clocks_before = {c.ticket_id: c.next_due for c in TicketSla.objects.all()}
    changes = changes_of(urgent + normal)
    moved = []
    one_ticket = sla.on_event

    def spy(ticket_id, *args, **kwargs):
        moved.append(ticket_id)
        return one_ticket(ticket_id, *args, **kwargs)

    monkeypatch.setattr(sla, "on_event", spy)
    sla.on_events(changes)
    # Opening pauses the urgent clocks (open is a pause status there); the normal ones go on,
    # and only the tickets whose clocks moved got the one-ticket treatment.
    assert moved == [t.pk for t in urgent]
    for ticket in urgent:
        clock = TicketSla.objects.get(ticket=ticket)
        assert clock.paused_since is not None and clock.next_due is None
    for ticket in normal:
        clock = TicketSla.objects.get(ticket=ticket)
        assert clock.paused_since is None and clock.next_due == clocks_before[ticket.pk]


def test_an_opened_ticket_without_clock_costs_the_bulk_clock_nothing_more(personas):
    tickets = [factories.ticket(team=personas.billing) for _ in range(10)]
    assign_many(routing.ROUTER, plan_for(tickets, personas.alice))
    opened = Ticket.objects.filter(pk__in=[t.pk for t in tickets], status=Status.OPEN)
    assert opened.count() == len(tickets)
    changes = changes_of(tickets)
    with CaptureQueriesContext(connection) as queries:
        sla.on_events(changes)
    assert len(queries.captured_queries) == 1


def test_the_bulk_announcement_carries_the_events_so_clocks_need_not_read_them(
    personas, django_capture_on_commit_callbacks, monkeypatch
):
    SlaPolicy.objects.create(name="All", first_response_minutes=60, pause_statuses=["open"])
    tickets = [factories.ticket(team=personas.billing) for _ in range(4)]
    for ticket in tickets:
        sla.start(ticket)
    announced = assign_and_hear(tickets, personas.alice, django_capture_on_commit_callbacks)
    assert len(announced) == len(tickets)
    assert all(
        c.data == [{"old": None, "new": personas.alice.pk}, {"old": "new", "new": "open"}]
        for c in announced
    )
    moved = []
    monkeypatch.setattr(sla, "on_event", lambda ticket_id, *args, **kwargs: moved.append(ticket_id))
    with CaptureQueriesContext(connection) as queries:
        sla.on_events(announced)
    # Only the clocks are read (the events came with the changes), and the receiver that ran on
    # commit already paused them all (open is a pause status here): nothing left to move.
    assert len(queries.captured_queries) == 1
    assert moved == []
    assert TicketSla.objects.filter(paused_since__isnull=False).count() == len(tickets)


def test_each_announced_event_id_is_that_tickets_event_of_that_kind(
    personas, django_capture_on_commit_callbacks
):
    # The bulk insert returns the events' ids; each must land on the right ticket and kind (on
    # PostgreSQL they come back from one INSERT ... SELECT over a JSON parameter).
    tickets = [factories.ticket(team=personas.billing) for _ in range(6)]
    announced = assign_and_hear(tickets, personas.alice, django_capture_on_commit_callbacks)
    assert sorted(c.ticket_id for c in announced) == sorted(t.pk for t in tickets)
    for change in announced:
        stored = dict(
            TicketEvent.objects.filter(pk__in=change.event_ids).values_list("pk", "ticket_id")
        )
        assert set(stored.values()) == {change.ticket_id}
        kinds = dict(TicketEvent.objects.filter(pk__in=change.event_ids).values_list("pk", "kind"))
        assert [kinds[e] for e in change.event_ids] == change.kinds
        assert change.data is not None
        for event_id, data in zip(change.event_ids, change.data, strict=True):
            assert TicketEvent.objects.get(pk=event_id).data == data
    assert (
        Ticket.objects.filter(pk__in=[t.pk for t in tickets], assignee=personas.alice).count() == 6
    )
