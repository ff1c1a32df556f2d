"""The help centre's form and sign-in never talk to a mail server inside the request: with nothing
listening on the SMTP port they answer as usual, make one ticket, and queue the mail for a worker."""

import re

import pytest
from django.test import Client

from caredesk.core.models import Delivery
from caredesk.portal.models import MagicLink
from caredesk.tickets.models import Ticket
from tests import factories
from tests.email.mail import free_port

pytestmark = pytest.mark.django_db

FORM = {
    "name": "Robin Reader",
    "email": "robin@example.test",
    "subject": "Cannot log in",
    "body": "It says error 42.",
}


@pytest.fixture
def no_mail_server(settings):
    """Django's SMTP backend pointed at a port where nothing listens (a fresh `make run`)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()
    settings.EMAIL_TIMEOUT = 5
    settings.CAREDESK_EMAIL_SINK = "off"


def test_the_request_form_answers_without_a_mail_server_and_makes_one_ticket(
    client, no_mail_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/help/requests/new/", FORM)
    assert response.status_code == 302 and response["Location"] == "/help/requests/thanks/"
    ticket = Ticket.objects.get()
    # The acknowledgement waits in the outbox for the mail server, with the reason it is waiting.
    delivery = Delivery.objects.get(kind="portal_acknowledgement")
    assert delivery.ticket == ticket and delivery.recipient == "robin@example.test"
    assert delivery.state == "pending" and "Connection refused" in delivery.last_error


def test_sign_in_answers_known_and_unknown_addresses_alike_without_a_mail_server(
    no_mail_server, django_capture_on_commit_callbacks
):
    factories.customer(email="sam@example.test")

    def answer(email: str) -> tuple[int, str]:
        with django_capture_on_commit_callbacks(execute=True):
            response = Client().post("/help/signin/", {"email": email})
        # The CSRF token differs per response (it is masked anew each time).
        page = re.sub(r"\b[A-Za-z0-9]{64}\b", "<csrf>", response.content.decode())
        return response.status_code, page

    known, unknown = answer("sam@example.test"), answer("nobody@example.test")
    assert known[0] == 200 and "on its way" in known[1]
    assert known == unknown
    # Only the customer's address gets a link, queued for a worker.
    assert MagicLink.objects.count() == 1
    link = Delivery.objects.get(kind="sign_in_link")
    assert link.recipient == "sam@example.test" and link.state == "pending"


def test_a_sent_sign_in_link_is_not_kept_in_the_outbox(client, django_capture_on_commit_callbacks):
    factories.customer(email="sam@example.test")
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/help/signin/", {"email": "sam@example.test"})
    delivery = Delivery.objects.get(kind="sign_in_link")
    assert delivery.state == "sent"
    assert "/help/auth/" not in str(delivery.payload)


def test_sign_in_does_the_same_database_work_for_known_and_unknown_addresses(client):
    """No timing oracle either: the request writes one job row whichever the address; the job
    looks the address up later."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    factories.customer(email="sam@example.test")

    def statements(email: str) -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            client.post("/help/signin/", {"email": email})
        # The same statements, whatever the values bound into them.
        return [re.sub(r"'[^']*'|\w*\d\w*", "?", q["sql"]) for q in queries.captured_queries]

    known, unknown = statements("sam@example.test"), statements("nobody@example.test")
    assert known == unknown
    assert not MagicLink.objects.exists()  # nothing is issued before the job runs
