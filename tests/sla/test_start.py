"""Starting SLA clocks on tickets that already exist: their status, and policies added later."""

from datetime import timedelta

import pytest
from django.utils import timezone

from caredesk.sla import services as sla
from caredesk.sla.models import SlaPolicy, TicketSla
from caredesk.tickets.models import Status, Ticket
from caredesk.tickets.services import change_status, update_ticket
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_clock_started_on_a_pending_ticket_starts_paused(
    personas, django_capture_on_commit_callbacks
):
    SlaPolicy.objects.create(
        name="Urgent",
        conditions={"priority": ["urgent"]},
        first_response_minutes=60,
        resolution_minutes=480,
        pause_statuses=["pending"],
    )
    with django_capture_on_commit_callbacks(execute=True):
        ticket = factories.ticket(team=personas.billing)
        change_status(personas.alice, ticket, Status.PENDING)
    assert not TicketSla.objects.filter(ticket=ticket).exists()  # no policy matched yet
    with django_capture_on_commit_callbacks(execute=True):
        update_ticket(personas.alice, ticket, {"priority": "urgent"})
    clock = TicketSla.objects.get(ticket=ticket)
    assert clock.policy.name == "Urgent" and clock.resolution_due is not None
    assert clock.paused_since is not None and clock.next_due is None
    assert not sla.overdue(Ticket.objects.all(), now=timezone.now() + timedelta(days=3)).exists()


def test_a_new_policy_clocks_the_tickets_already_open_from_when_they_opened(
    personas, django_capture_on_commit_callbacks
):
    waiting = factories.ticket(team=personas.billing, subject="Waiting for two hours")
    Ticket.objects.filter(pk=waiting.pk).update(created_at=timezone.now() - timedelta(hours=2))
    on_hold = factories.ticket(team=personas.billing)
    change_status(personas.alice, on_hold, Status.ON_HOLD)
    done = factories.ticket(team=personas.billing)
    change_status(personas.alice, done, Status.SOLVED)
    assert not TicketSla.objects.exists()
    policy = SlaPolicy(name="Everyone", first_response_minutes=60, pause_statuses=["on_hold"])
    with django_capture_on_commit_callbacks(execute=True):
        sla.save_policy(policy)
    clocks = {c.ticket_id: c for c in TicketSla.objects.all()}
    assert set(clocks) == {waiting.pk, on_hold.pk}  # the solved ticket is left alone
    assert clocks[waiting.pk].policy == policy
    # Measured from when the customer wrote: an hour overdue already.
    assert clocks[waiting.pk].first_response_due < timezone.now() - timedelta(minutes=55)
    assert list(sla.overdue(Ticket.objects.all())) == [waiting]
    assert clocks[on_hold.pk].paused_since is not None and clocks[on_hold.pk].next_due is None


def test_changing_a_policy_moves_the_targets_of_its_open_tickets(
    personas, django_capture_on_commit_callbacks
):
    policy = SlaPolicy.objects.create(name="All", first_response_minutes=60)
    with django_capture_on_commit_callbacks(execute=True):
        ticket = factories.ticket(team=personas.billing)
    before = TicketSla.objects.get(ticket=ticket).first_response_due
    policy.first_response_minutes = 240
    with django_capture_on_commit_callbacks(execute=True):
        sla.save_policy(policy)
    after = TicketSla.objects.get(ticket=ticket).first_response_due
    assert timedelta(minutes=179) < after - before < timedelta(minutes=181)
