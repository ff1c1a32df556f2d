"""The ticket page's sidebar parts that load after the page (Workflow card, customer edit form)
work in a real browser, from the keyboard."""

import pytest
from playwright.sync_api import expect

from caredesk.automation.models import Macro
from caredesk.customers.models import Customer, Organization
from caredesk.tickets.models import Status, Ticket
from tests import factories
from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_macro_and_customer_form_load_after_the_page(page, live_server):
    team = factories.team("Billing")
    agent = factories.agent(email="sam@example.test", name="Sam Agent", teams=[team])
    Macro.objects.create(name="Ask for a photo", reply="Could you send a photo?", changes={})
    Macro.objects.create(name="Wait for customer", changes={"status": "pending"})
    org = Organization.objects.create(name="Acme Ltd")
    requester = factories.customer(name="Robin Hood")
    ticket = factories.ticket(team=team, requester=requester)
    sign_in(page, live_server.url, agent.email, factories.PASSWORD)

    page.goto(f"{live_server.url}/agent/tickets/{ticket.pk}/")
    # The Workflow card fills itself in.
    macro = page.get_by_label("Macro")
    expect(macro).to_be_visible()
    expect(page.locator("#workflow")).not_to_have_attribute("aria-busy", "true")
    macro.select_option(label="Wait for customer")
    page.get_by_role("button", name="Apply").click()
    # Applying only loads the macro into the composer; Send applies it.
    expect(page.locator("#macro-pending")).to_be_visible()
    expect(page.locator("#composer-status")).to_have_value("pending")
    assert Ticket.objects.get(pk=ticket.pk).status != Status.PENDING
    page.locator("#composer-submit").click()
    page.wait_for_selector("text=Macro changes applied.")
    assert Ticket.objects.get(pk=ticket.pk).status == Status.PENDING

    # "Edit customer" opened with the keyboard loads its form; Tab reaches the first field.
    expect(page.get_by_label("Macro")).to_be_visible()
    page.locator("#customer-edit summary").focus()
    page.keyboard.press("Enter")
    name = page.locator("#c-name")
    expect(name).to_have_value("Robin Hood")
    page.keyboard.press("Tab")
    expect(name).to_be_focused()
    name.fill("Robin of Locksley")
    page.get_by_label("Organization").select_option(label="Acme Ltd")
    page.get_by_role("button", name="Save customer").click()
    page.wait_for_selector("text=Customer updated.")
    assert page.url.endswith(f"/agent/tickets/{ticket.pk}/")
    saved = Customer.objects.get(pk=requester.pk)
    assert saved.name == "Robin of Locksley" and saved.organization_id == org.pk
