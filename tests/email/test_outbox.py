"""The transactional outbox on the email channel, against a real SMTP server (aiosmtpd): a reply's
delivery is written with it, sent once, retried on 4xx, stopped on 5xx, swept after a crash."""

import logging
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from caredesk.channels.base import TransportError, register_transport
from caredesk.channels.email.services import receive
from caredesk.channels.email.transport import EmailTransport, classify
from caredesk.core import outbox
from caredesk.core.models import Delivery
from caredesk.tickets.models import Message, Ticket
from caredesk.tickets.services import post_message
from tests.email.mail import free_port, make
from tests.email.smtp_sink import SmtpSink

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp_settings(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_TIMEOUT = 10
    settings.CAREDESK_EMAIL_SINK = "off"
    return settings


@pytest.fixture
def ticket(mailbox, smtp_settings):
    smtp_settings.EMAIL_PORT = free_port()  # nothing listens: the acknowledgement waits
    result = receive(make(message_id="<first@example.test>"))
    return Ticket.objects.get(pk=result.ticket_id)


def test_a_reply_and_its_delivery_are_written_in_one_transaction(ticket, personas):
    with transaction.atomic():
        reply = post_message(personas.alice, ticket, body_text="We shipped it.")
        delivery = Delivery.objects.get(message=reply)
        assert (delivery.channel, delivery.kind, delivery.state) == ("email", "reply", "pending")
        assert delivery.recipient == "jo@example.test"
        transaction.set_rollback(True)
    # Rolled back with the reply: nothing is left to send.
    assert not Message.objects.filter(pk=reply.pk).exists()
    assert not Delivery.objects.filter(kind="reply").exists()


def test_a_reply_is_sent_after_commit_exactly_once(
    ticket, personas, smtp_settings, django_capture_on_commit_callbacks
):
    with SmtpSink() as sink:
        smtp_settings.EMAIL_PORT = sink.port
        with django_capture_on_commit_callbacks(execute=True):
            reply = post_message(personas.alice, ticket, body_text="We shipped it.")
        delivery = Delivery.objects.get(message=reply)
        # A second hand-out of the same delivery (a duplicate task, a sweep) sends nothing.
        assert outbox.deliver(delivery.pk) == "skipped"
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        assert outbox.deliver(delivery.pk) == "skipped"
    replies = [m for m in sink.received if "We shipped it." in m.get_body().get_content()]
    assert len(replies) == 1
    delivery.refresh_from_db()
    reply.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("sent", 1)
    assert reply.delivery_status == "sent" and reply.external_id == replies[0]["Message-ID"]


def test_a_temporary_failure_is_retried_and_logged_with_its_reason(
    ticket, personas, smtp_settings, django_capture_on_commit_callbacks, caplog
):
    caplog.set_level(logging.WARNING, logger="caredesk.outbox")
    with SmtpSink(answers=["451 4.3.0 Try again later"]) as sink:
        smtp_settings.EMAIL_PORT = sink.port
        with django_capture_on_commit_callbacks(execute=True):
            reply = post_message(personas.alice, ticket, body_text="Second try wins.")
        delivery = Delivery.objects.get(message=reply)
        assert delivery.state == "pending" and delivery.attempts == 1
        assert "451" in delivery.last_error and delivery.next_attempt_at > timezone.now()
        assert (
            "451 4.3.0 Try again later" in caplog.text and f"delivery {delivery.pk}" in caplog.text
        )
        reply.refresh_from_db()
        assert reply.delivery_status == "queued" and "451" in reply.delivery_error
        assert outbox.deliver(delivery.pk) == "skipped"  # not due yet
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        assert outbox.deliver(delivery.pk) == "sent"
    reply.refresh_from_db()
    assert reply.delivery_status == "sent"
    assert [m["Message-ID"] for m in sink.received] == [reply.external_id]


def test_a_permanent_failure_stops_at_once_and_shows_on_the_message(
    ticket, personas, smtp_settings, django_capture_on_commit_callbacks, caplog
):
    caplog.set_level(logging.WARNING, logger="caredesk.outbox")
    with SmtpSink(answers=["550 5.1.1 No such mailbox"]) as sink:
        smtp_settings.EMAIL_PORT = sink.port
        with django_capture_on_commit_callbacks(execute=True):
            reply = post_message(personas.alice, ticket, body_text="Nobody reads this.")
        delivery = Delivery.objects.get(message=reply)
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        assert outbox.deliver(delivery.pk) == "skipped"  # failed: never tried again
    delivery.refresh_from_db()
    reply.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("failed", 1)
    assert "550 5.1.1 No such mailbox" in delivery.last_error
    assert reply.delivery_status == "failed" and "550 5.1.1" in reply.delivery_error
    assert "permanent, not retried" in caplog.text and "550 5.1.1 No such mailbox" in caplog.text
    assert sink.received == []


def test_the_ticket_page_says_why_a_delivery_failed(ticket, personas, client):
    reply = post_message(personas.alice, ticket, body_text="Undeliverable")
    Message.objects.filter(pk=reply.pk).update(
        delivery_status="failed",
        delivery_error="The mail server answered 550 5.1.1 No such mailbox",
    )
    client.force_login(personas.alice)
    page = client.get(f"/agent/tickets/{ticket.pk}/").content.decode()
    assert "Delivery failed: The mail server answered 550 5.1.1 No such mailbox" in page


def test_the_sweep_sends_a_delivery_a_crash_left_pending(ticket, personas, smtp_settings, settings):
    # Committed without its after-commit hand-off (the process died right after the commit).
    reply = post_message(personas.alice, ticket, body_text="Sent by the sweep.")
    delivery = Delivery.objects.get(message=reply)
    with SmtpSink() as sink:
        smtp_settings.EMAIL_PORT = sink.port
        assert outbox.sweep() == 0  # still within the grace period: its own hand-off may come
        Delivery.objects.filter(pk__in=[delivery.pk]).update(
            next_attempt_at=timezone.now()
            - timedelta(seconds=settings.CAREDESK_OUTBOX_GRACE_SECONDS + 1)
        )
        assert outbox.sweep() >= 1
        assert outbox.sweep() == 0  # sent: nothing left to sweep
    assert sum("Sent by the sweep." in m.get_body().get_content() for m in sink.received) == 1
    delivery.refresh_from_db()
    assert delivery.state == "sent"


def test_the_sweep_takes_back_a_delivery_whose_sender_died(ticket, personas, smtp_settings):
    reply = post_message(personas.alice, ticket, body_text="After the lease.")
    delivery = Delivery.objects.get(message=reply)
    assert outbox.claim(delivery.pk)  # a worker claimed it, then died
    with SmtpSink() as sink:
        smtp_settings.EMAIL_PORT = sink.port
        assert outbox.deliver(delivery.pk) == "skipped"  # its lease still holds
        Delivery.objects.filter(pk=delivery.pk).update(
            lease_until=timezone.now() - timedelta(seconds=1)
        )
        outbox.sweep()
    assert sum("After the lease." in m.get_body().get_content() for m in sink.received) == 1


def test_smtp_answers_are_told_apart():
    import smtplib

    assert classify(smtplib.SMTPDataError(554, b"Rejected")).permanent
    assert not classify(smtplib.SMTPDataError(452, b"Full")).permanent
    refused = smtplib.SMTPRecipientsRefused({"a@example.test": (550, b"No such user")})
    assert classify(refused).permanent and "550 No such user" in classify(refused).message
    assert not classify(ConnectionRefusedError(111, "Connection refused")).permanent
    assert not classify(smtplib.SMTPServerDisconnected("gone")).permanent


def test_one_transport_per_channel():
    class Another(EmailTransport):
        pass

    with pytest.raises(ValueError, match="already has a transport"):
        register_transport(Another())
    assert TransportError("x").permanent is False


def test_a_new_tickets_acknowledgement_is_queued_with_it_and_has_its_own_message_id(
    mailbox, django_capture_on_commit_callbacks
):
    from django.core import mail

    with django_capture_on_commit_callbacks(execute=True):
        receive(make(message_id="<customer-1@example.test>"))
    delivery = Delivery.objects.get(kind="acknowledgement")
    assert (delivery.recipient, delivery.state) == ("jo@example.test", "sent")
    (ack,) = mail.outbox
    # Not the customer's own Message-ID (their mail program would take it for their own mail).
    assert ack.extra_headers["Message-ID"] != "<customer-1@example.test>"
    assert ack.extra_headers["Auto-Submitted"] == "auto-replied"


def test_a_send_job_queued_before_the_outbox_becomes_one_delivery(ticket, personas):
    from caredesk.core import jobs

    reply = post_message(personas.alice, ticket, body_text="Queued before the upgrade.")
    Delivery.objects.filter(message=reply).delete()  # as an installation before the outbox left it
    job = jobs.enqueue("email.send", {"message_id": reply.pk})
    assert jobs.run(job.pk) == "done"
    job.refresh_from_db()
    job.state = "pending"
    job.save()
    jobs.run(job.pk)  # run twice: still one delivery
    assert Delivery.objects.filter(message=reply, kind="reply").count() == 1
