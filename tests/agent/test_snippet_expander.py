"""The composer's text expander endpoint: ::shortcut -> the snippet rendered for the ticket."""

import pytest

from caredesk.automation import services as automation
from caredesk.automation.models import CannedResponse
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def snippets(personas):
    automation.save_snippet(
        CannedResponse(
            shortcut="refund",
            title="Refund sent",
            body="Hi {{customer.first_name}}, the refund for #{{ticket.number}} is on its way. {{agent.first_name}}",
        )
    )
    automation.save_snippet(
        CannedResponse(shortcut="refund", title="Mine", body="My refund text", owner=personas.bob)
    )
    automation.save_snippet(
        CannedResponse(shortcut="secret", title="Bob's", body="Bob only", owner=personas.bob)
    )


def url(ticket, shortcut):
    return f"/agent/tickets/{ticket.pk}/snippet/?shortcut={shortcut}"


def test_it_renders_the_snippet_for_the_ticket(client, personas, snippets):
    ticket = factories.ticket(
        team=personas.billing, requester=factories.customer(name="Robin Hood")
    )
    client.force_login(personas.alice)
    response = client.get(url(ticket, "refund"))
    assert response.status_code == 200
    assert response.json()["text"] == (
        f"Hi Robin, the refund for #{ticket.pk} is on its way. Alice"
    )


def test_an_agents_own_snippet_wins_over_the_shared_one(client, personas, snippets):
    ticket = factories.ticket(team=personas.billing)
    client.force_login(personas.bob)
    assert client.get(url(ticket, "refund")).json()["text"] == "My refund text"


def test_unknown_shortcut_gets_a_clear_message(client, personas, snippets):
    ticket = factories.ticket(team=personas.billing)
    client.force_login(personas.alice)
    response = client.get(url(ticket, "refnud"))
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "unknown_snippet"
    assert body["error"] == "There is no snippet ::refnud. Your snippets: ::refund."


def test_another_agents_private_snippet_is_unknown(client, personas, snippets):
    ticket = factories.ticket(team=personas.billing)
    client.force_login(personas.alice)
    response = client.get(url(ticket, "secret"))
    assert response.status_code == 422 and "Bob only" not in response.content.decode()


def test_ticket_outside_the_agents_scope_is_not_found(client, personas, snippets):
    elsewhere = factories.ticket(team=personas.technical)
    client.force_login(personas.alice)
    assert client.get(url(elsewhere, "refund")).status_code == 404
    assert client.get("/agent/tickets/999999/snippet/?shortcut=refund").status_code == 404


def test_customer_text_in_the_snippet_is_returned_as_data_not_markup(client, personas, snippets):
    ticket = factories.ticket(
        team=personas.billing, requester=factories.customer(name="<img src=x onerror=alert(1)>")
    )
    client.force_login(personas.alice)
    response = client.get(url(ticket, "refund"))
    assert response["Content-Type"] == "application/json"
    assert response.json()["text"].startswith("Hi <img")  # inserted into a textarea as text


def test_the_reply_box_offers_the_expander(client, personas, snippets):
    ticket = factories.ticket(team=personas.billing)
    client.force_login(personas.alice)
    page = client.get(f"/agent/tickets/{ticket.pk}/").content.decode()
    assert f'data-snippet-url="/agent/tickets/{ticket.pk}/snippet/"' in page
    # The list of shortcuts under the box comes with the Workflow card, after the page.
    assert '<span id="snippet-list"></span>' in page
    listed = client.get(f"/agent/tickets/{ticket.pk}/workflow/").content.decode()
    assert 'id="snippet-list" hx-swap-oob="true"' in listed
    assert "::refund" in listed and "::secret" not in listed


def test_signed_out_requests_are_sent_to_sign_in(client, personas, snippets):
    ticket = factories.ticket(team=personas.billing)
    assert client.get(url(ticket, "refund")).status_code == 302
