"""In a real browser: the header shows my presence on every page and nudges me when chats wait
with nobody online."""

import pytest
from playwright.sync_api import expect

from caredesk.accounts.models import Presence, User
from caredesk.channels.chat.models import ChatSession, ChatStatus, ChatWidget
from tests import factories
from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_header_prompts_and_going_online_clears_it(page, live_server):
    team = factories.team("Billing")
    agent = factories.agent(email="sam@example.test", name="Sam Agent", teams=[team])
    widget = ChatWidget.objects.create(name="Shop", key="shop", team=team)
    customer = factories.customer(name="Dana")
    ChatSession.objects.create(
        widget=widget,
        visitor_id="v1",
        customer=customer,
        ticket=factories.ticket(team=team, requester=customer),
        team=team,
        status=ChatStatus.WAITING,
    )
    sign_in(page, live_server.url, agent.email, factories.PASSWORD)
    page.goto(f"{live_server.url}/agent/kb/")

    presence = page.get_by_label("My presence")
    expect(presence).to_have_value("offline")
    prompt = page.locator("#presence-prompt")
    expect(prompt).to_contain_text("1 chat waiting and nobody is online: set yourself online")
    presence.select_option("online")
    page.locator("[data-presence-set]").click()
    expect(page.get_by_label("My presence")).to_have_value("online")
    assert page.url.endswith("/agent/kb/")
    assert User.objects.get(pk=agent.pk).presence == Presence.ONLINE
    # Once online the chat is offered to this agent, and nobody-online no longer holds.
    expect(page.locator("#presence-prompt")).not_to_contain_text("nobody is online")
