"""A real SMTP conversation with the listener (smtplib against aiosmtpd on a free port)."""

import os  # noqa: F401  (read by the skipif condition)
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


@pytest.mark.skipif(
    "os.environ.get('CAREDESK_TEST_DB') != 'postgres'",
    reason="the leak is of pooled PostgreSQL connections; SQLite's test database is one shared"
    " in-memory connection that close() keeps",
)
def test_the_listener_gives_its_database_connections_back(listener, mailbox):
    """The recipient check runs in the event loop's executor threads, which live on: each kept
    its connection checked out of the pool (PostgreSQL), until the pool ran dry (451s) and the
    test database could not be dropped."""
    import gc
    import threading

    from django.db import connection
    from django.db.backends.base.base import BaseDatabaseWrapper

    from caredesk.channels.email.listener import _known
    from caredesk.channels.email.services import forget_mailboxes

    left_open = []

    def check() -> None:
        assert _known(SUPPORT)
        left_open.append(connection.connection is not None)

    thread = threading.Thread(target=check)
    thread.start()
    thread.join()
    assert left_open == [False]

    for n in range(3):
        forget_mailboxes()  # every RCPT reads the mailboxes in an executor thread
        with smtp(listener) as client:
            client.sendmail(
                "jo@example.test", [SUPPORT], make(message_id=f"<back{n}@example.test>")
            )
    assert Message.objects.filter(external_id__startswith="<back").count() == 3
    # No thread but this one holds a connection now: not the executor's, not the writer's.
    alive = {t.ident: t.name for t in threading.enumerate()}
    holders = [
        alive[wrapper._thread_ident]
        for wrapper in gc.get_objects()
        if isinstance(wrapper, BaseDatabaseWrapper)
        and wrapper.connection is not None
        and wrapper._thread_ident in alive
        and wrapper._thread_ident != threading.main_thread().ident
    ]
    assert holders == []
