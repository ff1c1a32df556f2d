"""In a real browser: the Markdown toolbar and the server-rendered preview."""

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_toolbar_wraps_the_selection_and_preview_shows_sanitized_html(page, live_server):
    team = factories.team("Billing")
    agent = factories.agent(email="sam@example.test", name="Sam Agent", teams=[team])
    ticket = factories.ticket(team=team)
    sign_in(page, live_server.url, agent.email, factories.PASSWORD)
    page.goto(f"{live_server.url}/agent/tickets/{ticket.pk}/")

    body = page.locator("#composer-body")
    body.fill("Thanks <img src=x onerror=alert(1)>")
    body.evaluate("box => box.setSelectionRange(0, 6)")
    page.get_by_role("button", name="B", exact=True).click()
    expect(body).to_have_value("**Thanks** <img src=x onerror=alert(1)>")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#composer-preview")
    expect(preview.locator("strong")).to_have_text("Thanks")
    expect(preview.locator("img")).to_have_count(0)
    expect(preview).to_contain_text("<img src=x onerror=alert(1)>")
