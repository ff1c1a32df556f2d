"""Delivery receipts: Twilio's status callbacks update the message, shown in the ticket view."""

import pytest

from caredesk.tickets import services as tickets
from caredesk.tickets.models import EventKind, Ticket
from tests.sms.conftest import signed_post, text

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(client, account, personas, twilio, django_capture_on_commit_callbacks):
    text(client, account, "Hello", "SM" + "1" * 32)
    ticket = Ticket.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        message = tickets.post_message(personas.alice, ticket, body_text="Hi there")
    message.refresh_from_db()
    assert message.delivery_status == "sent"
    return message


def callback(client, account, sid, status, **extra):
    form = {"MessageSid": sid, "MessageStatus": status, "AccountSid": account.account_sid, **extra}
    return signed_post(client, account.status_path, form)


def test_delivered_is_recorded_and_shown_on_the_message(client, account, personas, sent):
    assert callback(client, account, sent.external_id, "delivered").status_code == 204
    sent.refresh_from_db()
    assert sent.delivery_status == "delivered"
    assert sent.ticket.events.filter(kind=EventKind.DELIVERY, data__status="delivered").exists()
    # A late "sent" does not move it back.
    callback(client, account, sent.external_id, "sent")
    sent.refresh_from_db()
    assert sent.delivery_status == "delivered"
    client.force_login(personas.alice)
    page = client.get(f"/agent/tickets/{sent.ticket_id}/").content.decode()
    assert '<span class="badge">Delivered</span>' in page


def test_undelivered_is_a_failure_with_the_error_code(client, account, personas, sent):
    callback(client, account, sent.external_id, "undelivered", ErrorCode="30003")
    sent.refresh_from_db()
    assert sent.delivery_status == "failed" and "undelivered (error 30003)" in sent.delivery_error
    client.force_login(personas.alice)
    page = client.get(f"/agent/tickets/{sent.ticket_id}/").content.decode()
    assert "Delivery failed: Twilio reports the text undelivered (error 30003)." in page


def test_an_unknown_sid_is_ignored_and_a_bad_status_refused(client, account, sent):
    assert callback(client, account, "SM" + "9" * 32, "delivered").status_code == 204
    response = callback(client, account, sent.external_id, "exploded")
    assert response.status_code == 400 and "MessageStatus" in response.content.decode()
    sent.refresh_from_db()
    assert sent.delivery_status == "sent"


def test_a_receipt_before_the_send_is_marked_is_not_overwritten(sent):
    """Twilio's "delivered" can reach caredesk before the outbox marks the send: the message's
    status never moves back to "sent"."""
    from caredesk.core import outbox
    from caredesk.core.models import Delivery

    tickets.set_delivery_status(sent, "delivered")
    outbox._mark_sent(Delivery.objects.get(message=sent))
    sent.refresh_from_db()
    assert sent.delivery_status == "delivered"
