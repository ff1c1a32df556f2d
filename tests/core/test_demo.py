"""The demo data set: it must look like a real team's recent work."""

import pytest
from django.db.models import Max, Min
from django.utils import timezone

from caredesk.operations.demo import load_demo
from caredesk.tickets.models import EventKind, Message, Status, Ticket, TicketEvent

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """One demo load for the module (it takes a few seconds), removed afterwards."""
    with django_db_blocker.unblock():
        from django.db import transaction
        from django.test import TestCase

        before = timezone.now()
        with transaction.atomic():
            # The after-commit work runs as on a real commit, in order.
            with TestCase.captureOnCommitCallbacks(execute=True):
                load_demo(tickets=150, customers=40)
            yield before
            transaction.set_rollback(True)


def test_nothing_is_dated_in_the_future(demo):
    now = timezone.now()
    assert not Ticket.objects.filter(updated_at__gt=demo).exists()
    assert not Ticket.objects.filter(created_at__gt=demo).exists()
    assert not Message.objects.filter(created_at__gt=demo).exists()
    # Delivery events excepted: the old replies' delivery after the load is the outbox's part
    # (the demo seeds them as sent in that work).
    later = TicketEvent.objects.filter(created_at__gt=demo).exclude(kind=EventKind.DELIVERY)
    assert not later.exists(), list(later.values_list("kind", "data")[:5])
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


def test_open_tickets_have_sla_clocks_and_the_team_has_its_tools(demo):
    from datetime import timedelta

    from caredesk.automation.models import CannedResponse, Macro
    from caredesk.sla.models import BusinessHours, TicketSla
    from caredesk.sla.services import overdue
    from caredesk.tickets.models import ACTIVE_STATUSES

    active = Ticket.objects.filter(status__in=ACTIVE_STATUSES)
    clocks = TicketSla.objects.filter(ticket__in=active)
    assert clocks.count() == active.count() > 0
    paused = {
        s
        for s in clocks.filter(paused_since__isnull=False).values_list("ticket__status", flat=True)
    }
    assert paused == {Status.PENDING, Status.ON_HOLD}
    assert not clocks.filter(
        paused_since__isnull=True, next_due__isnull=True, ticket__status=Status.NEW
    ).exists()
    assert overdue(active, now=demo + timedelta(days=14)).exists()
    assert BusinessHours.objects.count() == 3
    assert Macro.objects.count() >= 3 and CannedResponse.objects.count() >= 3


def test_subjects_come_from_what_the_customer_wrote(demo):
    from caredesk.operations.demo import BUILTIN_SUBFLOWS, load_topics

    subflows = {t.subflow for t in load_topics()} | {
        s for subs in BUILTIN_SUBFLOWS.values() for s in subs
    }
    for ticket in Ticket.objects.all():
        first = ticket.messages.order_by("id").first()
        assert ticket.subject not in subflows  # no "Mistimed Billing Never Bought"
        assert ticket.subject.rstrip("…").lower()[:30] in first.body_text.lower(), ticket.subject


def test_a_customer_giving_an_order_number_gives_one(demo):
    import re

    said = Message.objects.filter(body_text__icontains="order number")
    assert said.exists()
    for message in said.filter(author_kind="customer"):
        assert re.search(r"CD-\d{5}", message.body_text), message.body_text


def test_open_tickets_are_clocked_from_when_they_opened(demo):
    from caredesk.sla.hours import add_business_minutes
    from caredesk.sla.models import TicketSla
    from caredesk.sla.services import hours_for

    waiting = TicketSla.objects.filter(
        ticket__status=Status.NEW, first_response_due__isnull=False
    ).select_related("ticket", "policy")
    assert waiting.exists()
    for clock in waiting:
        expected = add_business_minutes(
            clock.ticket.created_at,
            clock.policy.first_response_minutes,
            hours_for(clock.policy, clock.ticket),
        )
        assert clock.first_response_due == expected
