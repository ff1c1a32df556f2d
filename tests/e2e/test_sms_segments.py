"""The composer's SMS segment counter, live as the agent types, in a real browser (CSP on)."""

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_counter_follows_the_reply_on_an_sms_ticket(page, live_server):
    team = factories.team("Billing")
    agent = factories.agent(email="sam@example.test", name="Sam Agent", teams=[team])
    ticket = factories.ticket(team=team, channel="sms")
    sign_in(page, live_server.url, agent.email, factories.PASSWORD)
    page.goto(f"{live_server.url}/agent/tickets/{ticket.pk}/")
    counter = page.locator("#sms-segments")
    expect(counter).to_contain_text("0 characters, 0 segments")
    box = page.locator("#composer-body")
    box.fill("a" * 160)
    expect(counter).to_contain_text("160 characters, 1 segment (GSM-7)")
    box.press("End")
    page.keyboard.type("{")  # extension table: two septets, and the text no longer fits one
    expect(counter).to_contain_text("162 characters, 2 segments (GSM-7)")
    box.fill("Привет")
    expect(counter).to_contain_text("6 UCS-2 units, 1 segment (UCS-2)")
