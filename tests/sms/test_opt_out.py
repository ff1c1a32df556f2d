"""STOP, START and HELP: opted-out numbers get nothing, and the agent is told why."""

import pytest

from caredesk.channels.sms.models import SmsOptOut
from caredesk.core.models import Delivery
from caredesk.tickets import services as tickets
from caredesk.tickets.models import RawInbound, Ticket
from tests.sms.conftest import CUSTOMER, OUR_NUMBER, text

pytestmark = pytest.mark.django_db


def sid(n: int) -> str:
    return f"SM{n:032d}"


@pytest.mark.parametrize("keyword", ["STOP", "stopall", " Unsubscribe ", "CANCEL", "END", "quit"])
def test_an_opt_out_keyword_opts_the_number_out_and_opens_no_ticket(client, account, keyword):
    assert text(client, account, keyword, sid(1)).status_code == 200
    assert SmsOptOut.objects.get().phone_number == CUSTOMER
    assert not Ticket.objects.exists()
    # Kept raw all the same, with what it did.
    raw = RawInbound.objects.get(external_id=sid(1))
    assert raw.state == RawInbound.State.IGNORED and "opt_out" in raw.error


def test_a_reply_to_an_opted_out_number_is_refused_and_the_composer_says_so(
    client, account, personas, twilio, django_capture_on_commit_callbacks
):
    text(client, account, "Where is my refund?", sid(1))
    ticket = Ticket.objects.get()
    text(client, account, "STOP", sid(2))
    # On an open conversation the keyword is shown there too.
    assert list(ticket.messages.values_list("body_text", flat=True))[-1] == "STOP"
    with django_capture_on_commit_callbacks(execute=True):
        message = tickets.post_message(personas.alice, ticket, body_text="Refund sent.")
    message.refresh_from_db()
    assert twilio.requests == []  # never reached Twilio
    assert Delivery.objects.get(message=message).state == "failed"
    assert message.delivery_status == "failed"
    assert f"{CUSTOMER} opted out of SMS (texted STOP" in message.delivery_error
    client.force_login(personas.alice)
    page = client.get(f"/agent/tickets/{ticket.pk}/").content.decode()
    assert "This customer opted out of SMS" in page
    assert "Delivery failed: Not sent: " in page

    text(client, account, "START", sid(3))
    assert not SmsOptOut.objects.exists()
    assert (
        "This customer opted out" not in client.get(f"/agent/tickets/{ticket.pk}/").content.decode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        again = tickets.post_message(personas.alice, ticket, body_text="Refund sent.")
    again.refresh_from_db()
    assert again.delivery_status == "sent" and twilio.requests[0].form["To"] == CUSTOMER


def test_help_is_answered_with_the_accounts_help_text(
    client, account, twilio, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        text(client, account, "help", sid(1))
    [request] = twilio.requests
    assert request.form["Body"] == "Text us any time. Reply STOP to opt out."
    assert (request.form["To"], request.form["From"]) == (CUSTOMER, OUR_NUMBER)
    assert Delivery.objects.get(kind="help").state == "sent"
    assert not Ticket.objects.exists()
