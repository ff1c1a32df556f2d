"""In a real browser: Apply puts a macro into the composer, twice is still once, Send applies."""

import pytest
from playwright.sync_api import expect

from caredesk.automation.models import Macro
from caredesk.tickets.models import Message, Status, Ticket
from tests import factories
from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_applying_a_macro_twice_then_sending_sends_one_reply(page, live_server):
    team = factories.team("Billing")
    agent = factories.agent(email="sam@example.test", name="Sam Agent", teams=[team])
    Macro.objects.create(
        name="Refund",
        reply="Hello {{customer.first_name}}, your refund is on its way.",
        changes={"status": "pending", "tags": ["refund"]},
    )
    ticket = factories.ticket(team=team, requester=factories.customer(name="Robin Hood"))
    before = Message.objects.filter(ticket=ticket).count()
    sign_in(page, live_server.url, agent.email, factories.PASSWORD)
    page.goto(f"{live_server.url}/agent/tickets/{ticket.pk}/")

    body = page.locator("#composer-body")
    body.fill("Thanks for waiting.")
    page.get_by_label("Macro").select_option(label="Refund")
    for _ in range(2):
        page.get_by_role("button", name="Apply").click()
        expect(body).to_have_value("Thanks for waiting.\n\nHello Robin, your refund is on its way.")
    expect(page.locator("#macro-pending")).to_contain_text("Add tags refund")
    expect(page.locator("#composer-status")).to_have_value("pending")
    # Nothing was sent or changed by applying.
    assert Message.objects.filter(ticket=ticket).count() == before
    assert Ticket.objects.get(pk=ticket.pk).status != Status.PENDING

    page.locator("#composer-submit").dblclick()
    page.wait_for_selector("text=Reply sent.")
    sent = list(Message.objects.filter(ticket=ticket).order_by("id")[before:])
    # (Browsers submit a textarea's line breaks as CRLF.)
    assert [m.body_text.replace("\r\n", "\n") for m in sent] == [
        "Thanks for waiting.\n\nHello Robin, your refund is on its way."
    ]
    saved = Ticket.objects.get(pk=ticket.pk)
    assert saved.status == Status.PENDING
    assert list(saved.tags.values_list("name", flat=True)) == ["refund"]


def test_removing_a_loaded_macro_sends_only_the_agent_s_text(page, live_server):
    team = factories.team("Billing")
    agent = factories.agent(email="sam@example.test", name="Sam Agent", teams=[team])
    Macro.objects.create(name="Close it", reply="Closing now.", changes={"tags": ["closing"]})
    ticket = factories.ticket(team=team)
    sign_in(page, live_server.url, agent.email, factories.PASSWORD)
    page.goto(f"{live_server.url}/agent/tickets/{ticket.pk}/")
    page.locator("#composer-body").fill("Just a note.")
    page.get_by_label("Macro").select_option(label="Close it")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#macro-pending")).to_be_visible()
    page.get_by_role("button", name="Remove the macro").click()
    expect(page.locator("#macro-pending")).to_be_hidden()
    expect(page.locator("#composer-body")).to_have_value("Just a note.")
    page.locator("#composer-submit").click()
    page.wait_for_selector("text=Reply sent.")
    assert not Ticket.objects.get(pk=ticket.pk).tags.exists()
