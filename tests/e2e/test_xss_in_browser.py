"""A sample of the XSS corpus rendered in a real browser, in the workspace and the portal: no
script runs (no dialog opens, no marker is set, no request leaves for an attacker URL)."""

import pytest

from caredesk.operations.demo import DEMO_PASSWORD
from caredesk.tickets.services import post_message
from tests import factories
from tests.e2e.conftest import sign_in
from tests.security.test_xss_corpus import VECTORS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SAMPLE = [
    v.replace("alert(1)", "window.__xss=1").replace("alert(2)", "window.__xss=2")
    for v in VECTORS[::4]
]


def test_customer_text_never_executes_in_workspace_or_portal(page, live_server):
    from caredesk.accounts.models import Role

    billing = factories.team("Billing")
    agent = factories.agent(email="xss@example.test", role=Role.LEAD, teams=[billing])
    agent.set_password(DEMO_PASSWORD)
    agent.save()
    customer = factories.customer(name='<img src=x onerror="window.__xss=3">')
    ticket = factories.ticket(
        team=billing, requester=customer, subject="<script>window.__xss=4</script>", body=SAMPLE[0]
    )
    for vector in SAMPLE[1:]:
        post_message(agent, ticket, body_html=vector)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, live_server.url, "xss@example.test", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/agent/tickets/{ticket.pk}/")
    page.wait_for_timeout(500)
    assert page.evaluate("window.__xss") is None
    assert "&lt;script&gt;" in page.content() or "<script>window" not in page.content()
    session = page.context.cookies()
    assert session  # signed in
    # The same conversation in the customer's portal.
    from django.test import Client

    portal = Client()
    s = portal.session
    s["portal_customer_id"] = customer.pk
    s.save()
    page.context.add_cookies(
        [{"name": "sessionid", "value": s.session_key, "url": live_server.url}]
    )
    page.goto(f"{live_server.url}/help/requests/{ticket.pk}/")
    page.wait_for_timeout(500)
    assert page.evaluate("window.__xss") is None
    assert dialogs == []
