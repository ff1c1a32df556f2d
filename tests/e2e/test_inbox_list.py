"""In a real browser: select all + a bulk action, the hover preview, and the running total."""

import pytest
from playwright.sync_api import expect

from caredesk.tickets.models import Ticket
from tests import factories
from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_select_all_then_bulk_tag_and_the_preview_and_total(page, live_server):
    team = factories.team("Billing")
    agent = factories.agent(email="sam@example.test", name="Sam Agent", teams=[team])
    first = factories.ticket(team=team, subject="Oldest", body="The very first question")
    for i in range(52):
        factories.ticket(team=team, subject=f"Ticket {i}")
    sign_in(page, live_server.url, agent.email, factories.PASSWORD)
    page.goto(f"{live_server.url}/agent/?view=team&sort=created_at")

    expect(page.locator("#inbox-total")).to_have_text("Showing 1–50 of 53")
    row = page.locator("tr[data-row]").first
    expect(row.locator(".row-preview")).to_be_hidden()
    row.hover()
    expect(row.locator(".row-preview")).to_have_text("The very first question")

    page.get_by_role("link", name="Load more").click()
    expect(page.locator("tr[data-row]")).to_have_count(53)
    expect(page.locator("#inbox-total")).to_have_text("Showing 1–53 of 53")

    page.get_by_label("Select all tickets shown").check()
    expect(page.locator("#selected-count")).to_have_text("53 selected")
    page.get_by_label(f"Select ticket {first.pk}", exact=True).uncheck()
    expect(page.locator("#selected-count")).to_have_text("52 selected")
    expect(page.get_by_label("Select all tickets shown")).not_to_be_checked()
    page.get_by_label("Bulk action", exact=True).select_option("tag")
    page.get_by_label("Value for the bulk action (status, tag or ticket number)").fill("sweep")
    page.locator(".bulkbar").get_by_role("button", name="Apply").click()
    page.wait_for_selector("text=Updated 52 ticket(s).")
    assert Ticket.objects.filter(tags__name="sweep").count() == 52
    assert not Ticket.objects.get(pk=first.pk).tags.exists()
