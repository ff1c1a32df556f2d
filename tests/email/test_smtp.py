"""A real SMTP conversation with the listener (smtplib against aiosmtpd on a free port)."""

import smtplib

import pytest
from django.db import OperationalError

from caredesk.channels.email.listener import build_controller
from caredesk.tickets.models import Message, Ticket
from tests.email.mail import SUPPORT, free_port, make

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def listener(mailbox, settings):
    settings.CAREDESK_EMAIL_MAX_BYTES = 2 * 1024 * 1024
    controller = build_controller("127.0.0.1", free_port())
    controller.start()
    yield controller
    controller.stop()


def smtp(listener):
    return smtplib.SMTP(listener.hostname, listener.port, timeout=20)


def test_accepted_mail_is_committed_before_250(listener):
    with smtp(listener) as client:
        client.ehlo()
        code, reply = client.docmd("MAIL FROM:<jo@example.test>")
        assert code == 250
        assert client.docmd(f"RCPT TO:<{SUPPORT}>")[0] == 250
        code, reply = client.data(make(message_id="<smtp-1@example.test>"))
    assert code == 250
    # By the time the client has its 250 the ticket is in the database.
    assert Message.objects.filter(external_id="<smtp-1@example.test>").exists()
    assert Ticket.objects.get().channel == "email"


def test_unknown_recipient_is_refused_with_550(listener):
    with smtp(listener) as client:
        client.ehlo()
        client.docmd("MAIL FROM:<jo@example.test>")
        code, reply = client.docmd("RCPT TO:<nobody@demo.caredesk.test>")
    assert code == 550
    assert not Ticket.objects.exists()


def test_oversize_mail_is_refused_with_552(listener):
    big = make(attachments=[("big.bin", "application/octet-stream", b"x" * (3 * 1024 * 1024))])
    with (
        smtp(listener) as client,
        pytest.raises((smtplib.SMTPSenderRefused, smtplib.SMTPDataError)) as info,
    ):
        client.sendmail("jo@example.test", [SUPPORT], big)
    assert info.value.smtp_code == 552
    assert not Ticket.objects.exists()


def test_database_outage_answers_451_so_the_sender_retries(listener, monkeypatch):
    def down(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr("caredesk.channels.email.listener._store_batch", down)
    with smtp(listener) as client:
        client.ehlo()
        client.docmd("MAIL FROM:<jo@example.test>")
        client.docmd(f"RCPT TO:<{SUPPORT}>")
        code, _ = client.data(make())
    assert code == 451
    assert not Ticket.objects.exists()


def test_twenty_mb_attachment_lands(listener, settings):
    settings.CAREDESK_EMAIL_MAX_BYTES = 40 * 1024 * 1024
    controller = build_controller("127.0.0.1", free_port())
    controller.start()
    try:
        payload = bytes(range(256)) * (20 * 1024 * 1024 // 256)
        with smtplib.SMTP(controller.hostname, controller.port, timeout=60) as client:
            client.sendmail(
                "jo@example.test",
                [SUPPORT],
                make(
                    message_id="<big20@example.test>",
                    attachments=[("scan.pdf", "application/pdf", payload)],
                ),
            )
    finally:
        controller.stop()
    message = Message.objects.get(external_id="<big20@example.test>")
    attachment = message.attachments.get()
    assert attachment.size == len(payload)
