"""The demo data set: it must look like a real team's recent work."""

import pytest
from django.db.models import Max, Min
from django.utils import timezone

from caredesk.core.demo import load_demo
from caredesk.tickets.models import EventKind, Message, Status, Ticket, TicketEvent

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """One demo load for the module (it takes a few seconds), removed afterwards."""
    with django_db_blocker.unblock():
        from django.db import transaction

        before = timezone.now()
        with transaction.atomic():
            load_demo(tickets=150, customers=40)
            yield before
            transaction.set_rollback(True)


def test_nothing_is_dated_in_the_future(demo):
    now = timezone.now()
    assert not Ticket.objects.filter(updated_at__gt=demo).exists()
    assert not Ticket.objects.filter(created_at__gt=demo).exists()
    assert not Message.objects.filter(created_at__gt=demo).exists()
    assert not TicketEvent.objects.filter(created_at__gt=demo).exists()
    assert Ticket.objects.aggregate(n=Max("updated_at"))["n"] <= now


def test_each_ticket_history_runs_forward(demo):
    for ticket in Ticket.objects.all():
        span = ticket.messages.aggregate(first=Min("created_at"), last=Max("created_at"))
        assert ticket.created_at == span["first"] and ticket.updated_at == span["last"]
        created = ticket.events.get(kind=EventKind.CREATED)
        assert created.created_at == ticket.created_at
        if ticket.status in (Status.SOLVED, Status.CLOSED):
            assert ticket.solved_at == ticket.updated_at
        if ticket.first_response_at is not None:
            assert ticket.created_at <= ticket.first_response_at <= ticket.updated_at


def test_open_work_is_recent_and_history_goes_back_weeks(demo):
    from datetime import timedelta

    active = Ticket.objects.filter(status__in=[Status.NEW, Status.OPEN])
    assert active.exists()
    assert not active.filter(updated_at__lt=demo - timedelta(days=3, minutes=1)).exists()
    oldest = Ticket.objects.aggregate(n=Min("created_at"))["n"]
    assert oldest < demo - timedelta(days=30)
