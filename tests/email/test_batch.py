"""Group commit in the SMTP listener: messages that arrive while the writer is busy are written as
one batch; each client gets its answer after the commit that holds its message.

The writer is held on its first batch until the other clients' messages are queued behind it, so
the second batch is exactly those messages (no timing involved)."""

import smtplib
import threading
import time

import pytest
from django.db import OperationalError

from caredesk.channels.email import listener as listener_module
from caredesk.channels.email import services as email_services
from caredesk.channels.email.listener import build_controller
from caredesk.customers.models import Customer
from caredesk.tickets.models import Message, RawInbound, Ticket
from tests.email.mail import SUPPORT, free_port, make

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def held_listener(mailbox, monkeypatch, settings):
    """A listener whose writer waits in its first batch until `release()`; records batch sizes."""
    settings.CAREDESK_SMTP_WRITERS = 1
    batches: list[int] = []
    gate = threading.Event()
    real = listener_module._store_batch

    def held(envelopes, answer):
        batches.append(len(envelopes))
        if len(batches) == 1:
            gate.wait(60)
        return real(envelopes, answer)

    monkeypatch.setattr(listener_module, "_store_batch", held)
    controller = build_controller("127.0.0.1", free_port())
    controller.start()
    controller.batches = batches
    controller.release = gate.set
    yield controller
    gate.set()
    controller.stop()


def send(controller, raw, answers, key):
    """One SMTP conversation; records (code, reply) of DATA under `key`."""
    with smtplib.SMTP(controller.hostname, controller.port, timeout=60) as client:
        client.ehlo()
        client.docmd("MAIL FROM:<jo@example.test>")
        assert client.docmd(f"RCPT TO:<{SUPPORT}>")[0] == 250
        answers[key] = client.data(raw)


def send_as_one_batch(controller, messages):
    """A first message occupies the writer; `messages` queue behind it and form the next batch.
    Returns each message's (code, reply)."""
    answers: dict = {}
    first = threading.Thread(
        target=send, args=(controller, make(message_id="<opener@example.test>"), answers, "opener")
    )
    first.start()
    while not controller.batches:  # the writer holds the opener
        time.sleep(0.01)
    threads = [
        threading.Thread(target=send, args=(controller, raw, answers, i))
        for i, raw in enumerate(messages)
    ]
    for thread in threads:
        thread.start()
    writer = controller.handler.writer
    while writer._queue.qsize() < len(messages):  # all of them wait behind the opener
        time.sleep(0.01)
    controller.release()
    for thread in [first, *threads]:
        thread.join(60)
    assert controller.batches == [1, len(messages)]
    return [answers[i] for i in range(len(messages))]


def test_a_message_that_fails_is_quarantined_and_the_rest_of_its_batch_lands(
    held_listener, monkeypatch
):
    real_link = email_services._link_inline_images

    def fail_on_poison(message):
        if message.ticket.subject == "Poison":
            raise RuntimeError("inline images exploded")
        real_link(message)

    monkeypatch.setattr(email_services, "_link_inline_images", fail_on_poison)
    answers = send_as_one_batch(
        held_listener,
        [
            make(subject="First", message_id="<b-1@example.test>"),
            make(sender="ann@example.test", subject="Poison", message_id="<b-2@example.test>"),
            make(sender="bob@example.test", subject="Third", message_id="<b-3@example.test>"),
        ],
    )
    # Every client gets its 250: the poisoned message is stored (quarantined), not lost.
    assert [code for code, _ in answers] == [250, 250, 250]
    assert set(Message.objects.values_list("external_id", flat=True)) == {
        "<opener@example.test>",
        "<b-1@example.test>",
        "<b-3@example.test>",
    }
    # Rolled back to its savepoint: no ticket and no customer of its own are left behind.
    assert not Ticket.objects.filter(subject="Poison").exists()
    assert not Customer.objects.filter(email="ann@example.test").exists()
    poisoned = RawInbound.objects.get(external_id="<b-2@example.test>")
    assert poisoned.state == "quarantined" and "inline images exploded" in poisoned.error
    assert b"Subject: Poison" in poisoned.payload
    assert answers[1][1].decode().endswith(f"queued as {poisoned.pk}")


def test_a_duplicate_message_id_in_one_batch_makes_one_message(held_listener):
    email_services.receive(make(subject="Earlier", message_id="<seen@example.test>"))
    answers = send_as_one_batch(
        held_listener,
        [
            make(subject="Twice", message_id="<twice@example.test>"),
            make(subject="Twice", message_id="<twice@example.test>"),
            make(subject="Earlier", message_id="<seen@example.test>"),
        ],
    )
    assert [code for code, _ in answers] == [250, 250, 250]
    assert Message.objects.filter(external_id="<twice@example.test>").count() == 1
    assert Message.objects.filter(external_id="<seen@example.test>").count() == 1
    # Every delivery keeps its raw record; the copies are marked as such.
    assert list(
        RawInbound.objects.filter(external_id="<twice@example.test>")
        .order_by("id")
        .values_list("state", flat=True)
    ) == ["processed", "ignored"]
    assert list(
        RawInbound.objects.filter(external_id="<seen@example.test>")
        .order_by("id")
        .values_list("state", flat=True)
    ) == ["processed", "ignored"]


def test_database_down_while_storing_raw_answers_451_to_the_whole_batch(held_listener, monkeypatch):
    def down(*args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(email_services.tickets, "store_raw_many", down)
    answers = send_as_one_batch(
        held_listener,
        [make(message_id=f"<down-{i}@example.test>") for i in range(3)],
    )
    assert [code for code, _ in answers] == [451, 451, 451]
    assert not RawInbound.objects.filter(external_id__startswith="<down-").exists()
    assert not Message.objects.filter(external_id__startswith="<down-").exists()


def test_database_down_while_processing_answers_451_and_leaves_no_half_batch(
    held_listener, monkeypatch
):
    real_link = email_services._link_inline_images

    def connection_lost_on_second(message):
        if message.external_id == "<mid-1@example.test>":
            raise OperationalError("server closed the connection unexpectedly")
        real_link(message)

    monkeypatch.setattr(email_services, "_link_inline_images", connection_lost_on_second)
    batch = [
        make(
            sender=f"mid{i}@example.test", subject=f"Mid {i}", message_id=f"<mid-{i}@example.test>"
        )
        for i in range(3)
    ]
    answers = send_as_one_batch(held_listener, batch)
    assert [code for code, _ in answers] == [451, 451, 451]
    # The first message of the batch had been processed: it is rolled back with the rest.
    assert not Message.objects.filter(external_id__startswith="<mid-").exists()
    assert not Ticket.objects.filter(subject__startswith="Mid ").exists()
    assert set(
        RawInbound.objects.filter(external_id__startswith="<mid-").values_list("state", flat=True)
    ) == {"ignored"}
    # The sender retries once the database is back: each message lands once.
    monkeypatch.setattr(email_services, "_link_inline_images", real_link)
    for raw in batch:
        with smtplib.SMTP(held_listener.hostname, held_listener.port, timeout=60) as client:
            client.sendmail("jo@example.test", [SUPPORT], raw)
    for i in range(3):
        assert Message.objects.filter(external_id=f"<mid-{i}@example.test>").count() == 1


def send_until_accepted(controller, raw, answers, key):
    """As a sending server does: retry after a 4xx answer."""
    for _attempt in range(50):
        send(controller, raw, answers, key)
        if answers[key][0] != 451:
            return
        time.sleep(0.05)


def test_several_writers_store_every_message_once(mailbox, settings):
    # PostgreSQL's default (several batches written at once). The in-memory SQLite of the test
    # suite refuses concurrent writers with "table is locked": those clients get 451 and retry.
    settings.CAREDESK_SMTP_WRITERS = 3
    controller = build_controller("127.0.0.1", free_port())
    controller.start()
    try:
        answers: dict = {}
        threads = [
            threading.Thread(
                target=send_until_accepted,
                args=(
                    controller,
                    make(sender=f"w{i}@example.test", message_id=f"<w-{i}@example.test>"),
                    answers,
                    i,
                ),
            )
            for i in range(12)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(controller.handler.writer._threads) == 3
    finally:
        controller.stop()
    assert [answers[i][0] for i in range(12)] == [250] * 12
    for i in range(12):
        assert Message.objects.filter(external_id=f"<w-{i}@example.test>").count() == 1
