"""Replies go out through Twilio's REST API (a stub on 127.0.0.1); its errors are told apart."""

import pytest
from django.utils import timezone

from caredesk.core import outbox
from caredesk.core.models import Delivery
from caredesk.tickets import services as tickets
from caredesk.tickets.models import Ticket
from tests.sms.conftest import ACCOUNT_SID, CUSTOMER, OUR_NUMBER, text

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(client, account):
    text(client, account, "Is my order on its way?", "SM" + "1" * 32)
    return Ticket.objects.get()


def reply(personas, ticket, body, capture):
    with capture(execute=True):
        return tickets.post_message(personas.alice, ticket, body_text=body)


def test_a_reply_is_posted_to_twilio_with_basic_auth_and_form_fields(
    ticket, personas, twilio, account, settings, django_capture_on_commit_callbacks
):
    message = reply(personas, ticket, "It ships today.", django_capture_on_commit_callbacks)
    [request] = twilio.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.authorization == twilio.basic_auth()
    assert request.form == {
        "To": CUSTOMER,
        "From": OUR_NUMBER,
        "Body": "It ships today.",
        "StatusCallback": settings.BASE_URL.rstrip("/") + f"/sms/twilio/{account.slug}/status/",
    }
    message.refresh_from_db()
    delivery = Delivery.objects.get(message=message)
    assert (delivery.state, delivery.recipient) == ("sent", CUSTOMER)
    assert message.delivery_status == "sent" and message.external_id == twilio.sid(1)
    # Handed out again after a crash: the sid is known, nothing is sent twice.
    Delivery.objects.filter(pk=delivery.pk).update(state="pending", next_attempt_at=timezone.now())
    assert outbox.deliver(delivery.pk) == "sent"
    assert len(twilio.requests) == 1


def test_a_messaging_service_replaces_the_from_number(
    ticket, personas, twilio, account, django_capture_on_commit_callbacks
):
    account.messaging_service_sid = "MG" + "ab" * 16
    account.save()
    reply(personas, ticket, "Hello", django_capture_on_commit_callbacks)
    form = twilio.requests[0].form
    assert form["MessagingServiceSid"] == "MG" + "ab" * 16 and "From" not in form


def test_an_unsubscribed_recipient_is_a_permanent_failure_shown_on_the_message(
    ticket, personas, twilio, django_capture_on_commit_callbacks
):
    twilio.answers.append(
        (400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient"})
    )
    message = reply(personas, ticket, "Hello?", django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get(message=message)
    assert (delivery.state, delivery.attempts) == ("failed", 1)
    message.refresh_from_db()
    assert message.delivery_status == "failed"
    assert "21610" in message.delivery_error and "unsubscribed" in message.delivery_error


def test_an_invalid_number_is_permanent_and_a_server_error_is_retried(
    ticket, personas, twilio, django_capture_on_commit_callbacks
):
    twilio.answers += [(500, {"message": "Internal error"}), (201, {})]
    message = reply(personas, ticket, "Try again", django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get(message=message)
    assert (delivery.state, delivery.attempts) == ("pending", 1)
    message.refresh_from_db()
    assert message.delivery_status == "queued" and "Twilio answered 500" in message.delivery_error
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert outbox.deliver(delivery.pk) == "sent"
    assert len(twilio.requests) == 2

    twilio.answers.append((400, {"code": 21211, "message": "Invalid 'To' Phone Number"}))
    second = reply(personas, ticket, "Again", django_capture_on_commit_callbacks)
    assert Delivery.objects.get(message=second).state == "failed"


def test_too_many_requests_and_an_unreachable_api_are_retried(
    ticket, personas, twilio, settings, django_capture_on_commit_callbacks
):
    twilio.answers.append((429, {"code": 20429, "message": "Too Many Requests"}))
    message = reply(personas, ticket, "Busy?", django_capture_on_commit_callbacks)
    assert Delivery.objects.get(message=message).state == "pending"
    settings.CAREDESK_TWILIO_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    other = reply(personas, ticket, "Down?", django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get(message=other)
    assert delivery.state == "pending" and "could not be reached" in delivery.last_error
