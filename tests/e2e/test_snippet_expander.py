"""Typing ::shortcut then space or Tab in the reply box inserts the snippet, in a real browser."""

import pytest
from playwright.sync_api import expect

from caredesk.automation import services as automation
from caredesk.automation.models import CannedResponse
from tests import factories
from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_shortcut_expands_in_the_reply_box(page, live_server):
    team = factories.team("Billing")
    agent = factories.agent(email="sam@example.test", name="Sam Agent", teams=[team])
    automation.save_snippet(
        CannedResponse(
            shortcut="refund", title="Refund", body="Hi {{customer.first_name}}, refund sent."
        )
    )
    ticket = factories.ticket(team=team, requester=factories.customer(name="Robin Hood"))
    sign_in(page, live_server.url, agent.email, factories.PASSWORD)
    page.goto(f"{live_server.url}/agent/tickets/{ticket.pk}/")
    box = page.locator("#composer-body")
    box.click()
    page.keyboard.type("::refund")
    page.keyboard.press("Tab")
    expect(box).to_have_value("Hi Robin, refund sent.")
    expect(box).to_be_focused()
    page.keyboard.type(" Thanks! ::nope ")
    expect(page.locator("#composer-hint")).to_contain_text("There is no snippet ::nope")
    expect(box).to_have_value("Hi Robin, refund sent. Thanks! ::nope ")
