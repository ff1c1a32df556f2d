"""Retention policies: a dry-run report first, then delete or anonymise what is expired."""

from datetime import timedelta

import pytest
from django.utils import timezone

from caredesk.compliance.models import RetentionPolicy
from caredesk.compliance.services import apply_retention
from caredesk.tickets.models import Status, Ticket
from caredesk.tickets.services import change_status
from tests import factories

pytestmark = pytest.mark.django_db


def solved(personas, days_ago, team, channel="api"):
    ticket = factories.ticket(team=team, channel=channel, body="private details")
    change_status(personas.admin, ticket, Status.SOLVED)
    Ticket.objects.filter(pk=ticket.pk).update(solved_at=timezone.now() - timedelta(days=days_ago))
    return ticket


def test_dry_run_reports_and_changes_nothing(personas):
    old = solved(personas, 100, personas.billing)
    RetentionPolicy.objects.create(
        name="billing 90d", team=personas.billing, days=90, action="delete"
    )
    report = apply_retention(dry_run=True)
    assert report.total == 1 and report.policies[0]["tickets"] == 1
    assert Ticket.objects.filter(pk=old.pk).exists()


def test_delete_policy_removes_only_expired_solved_tickets_of_its_team(personas):
    old = solved(personas, 100, personas.billing)
    recent = solved(personas, 10, personas.billing)
    other_team = solved(personas, 100, personas.technical)
    still_open = factories.ticket(team=personas.billing)
    Ticket.objects.filter(pk=still_open.pk).update(created_at=timezone.now() - timedelta(days=400))
    RetentionPolicy.objects.create(
        name="billing 90d", team=personas.billing, days=90, action="delete"
    )
    apply_retention()
    remaining = set(Ticket.objects.values_list("pk", flat=True))
    assert old.pk not in remaining
    assert {recent.pk, other_team.pk, still_open.pk} <= remaining


def test_anonymize_policy_keeps_the_ticket_without_its_content(personas):
    old = solved(personas, 40, personas.billing, channel="chat")
    RetentionPolicy.objects.create(name="chat 30d", channel="chat", days=30, action="anonymize")
    apply_retention()
    old.refresh_from_db()
    assert old.subject == "Expired ticket"
    assert not old.messages.filter(body_text__contains="private").exists()
    assert apply_retention(dry_run=True).total == 0
