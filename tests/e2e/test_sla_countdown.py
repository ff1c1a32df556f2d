"""In a real browser: the ticket page's and the inbox's SLA badges count down without a reload."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from caredesk.sla.models import SlaPolicy, TicketSla
from tests import factories
from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_sla_badges_turn_into_breached_as_time_passes(page, live_server):
    team = factories.team("Billing")
    agent = factories.agent(email="sam@example.test", name="Sam Agent", teams=[team])
    ticket = factories.ticket(team=team, subject="Printer on fire")
    policy = SlaPolicy.objects.create(name="Gold", warn_before_minutes=30)
    due = timezone.now() + timedelta(minutes=2, seconds=30)
    TicketSla.objects.create(ticket=ticket, policy=policy, first_response_due=due, next_due=due)
    page.clock.install(time=timezone.now())
    sign_in(page, live_server.url, agent.email, factories.PASSWORD)

    page.goto(f"{live_server.url}/agent/?view=team")
    badge = page.locator("tr[data-row] .sla-badge")
    expect(badge).to_have_text("breaches in 2 min")
    expect(badge).to_have_class("sla-badge sla-warning")
    page.clock.run_for("04:00")
    expect(badge).to_have_text("breached 1 min ago")
    expect(badge).to_have_class("sla-badge sla-breached")

    page.goto(f"{live_server.url}/agent/tickets/{ticket.pk}/")
    countdown = page.locator("#workflow [data-sla-due]")
    expect(countdown).to_contain_text("breached")
    page.clock.run_for("10:00")
    expect(countdown).to_have_text("breached 11 min ago")
