"""ingest(): the one entry point every channel uses."""

import pytest

from caredesk.customers.models import Identity
from caredesk.tickets.models import EventKind, Message, RawInbound, Status, Ticket
from caredesk.tickets.services import (
    InboundAttachment,
    InboundMessage,
    SenderIdentity,
    change_status,
    ingest,
)

pytestmark = pytest.mark.django_db


def inbound(**overrides):
    fields = dict(
        channel="email",
        sender=SenderIdentity("email", "Jo@Example.test", "Jo"),
        subject="Refund please",
        body_text="I was charged twice.",
        external_id="<m1@example.test>",
        raw=b"From: jo@example.test\r\n\r\nI was charged twice.",
    )
    fields.update(overrides)
    return InboundMessage(**fields)


def test_it_creates_customer_ticket_message_and_raw():
    result = ingest(inbound())
    assert result.created_ticket
    ticket = result.ticket
    assert ticket.channel == "email"
    assert ticket.requester.email == "jo@example.test"
    assert Identity.objects.get(kind="email", value="jo@example.test").customer == ticket.requester
    assert result.message.body_text == "I was charged twice."
    assert result.message.raw.payload.startswith(b"From: jo@example.test")
    assert [e.kind for e in ticket.events.all()] == [EventKind.CREATED, EventKind.MESSAGE_ADDED]


def test_same_external_id_twice_makes_one_message():
    first = ingest(inbound())
    second = ingest(inbound())
    assert second.duplicate
    assert second.message.pk == first.message.pk
    assert Message.objects.count() == 1
    assert RawInbound.objects.count() == 1


def test_reply_threads_by_references_and_reopens_solved_ticket(personas):
    first = ingest(inbound())
    change_status(personas.admin, first.ticket, Status.SOLVED)
    reply = ingest(
        inbound(
            external_id="<m2@example.test>",
            references=["<m1@example.test>"],
            body_text="Still broken",
        )
    )
    assert not reply.created_ticket
    assert reply.ticket.pk == first.ticket.pk
    ticket = Ticket.objects.get(pk=first.ticket.pk)
    assert ticket.status == Status.OPEN
    assert ticket.reopened_count == 1


def test_reply_to_closed_ticket_opens_a_linked_follow_up(personas):
    first = ingest(inbound())
    change_status(personas.admin, first.ticket, Status.CLOSED)
    reply = ingest(inbound(external_id="<m3@example.test>", references=["<m1@example.test>"]))
    assert reply.created_ticket
    assert reply.ticket.pk != first.ticket.pk
    assert reply.ticket.links_out.get().target_id == first.ticket.pk


def test_someone_not_on_the_thread_gets_a_linked_ticket_not_a_cc():
    first = ingest(inbound())
    other = ingest(
        inbound(
            sender=SenderIdentity("email", "sam@example.test"),
            external_id="<m4@example.test>",
            references=["<m1@example.test>"],
        )
    )
    assert other.created_ticket
    assert other.ticket.pk != first.ticket.pk
    assert other.ticket.links_out.get().target_id == first.ticket.pk
    assert not first.ticket.cc.exists()


def test_card_numbers_are_redacted_everywhere_including_raw():
    result = ingest(
        inbound(body_text="my card 4111 1111 1111 1111 thanks", raw=b"card 4111111111111111")
    )
    assert "4111" not in result.message.body_text
    assert "[redacted card]" in result.message.body_text
    assert b"4111111111111111" not in result.message.raw.payload


def test_oversize_attachment_is_left_out_and_named_while_the_message_lands(settings):
    settings.CAREDESK_MAX_ATTACHMENT_BYTES = 10
    result = ingest(
        inbound(
            attachments=[
                InboundAttachment("big.pdf", "application/pdf", b"x" * 11),
                InboundAttachment("ok.txt", "text/plain", b"fine"),
            ]
        )
    )
    assert [a.filename for a in result.message.attachments.all()] == ["ok.txt"]
    assert result.message.metadata["dropped_attachments"][0]["filename"] == "big.pdf"
