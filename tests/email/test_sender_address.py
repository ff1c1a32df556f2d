"""The sender of a mail is the address in angle brackets, whatever its display name says
(issue #17, item 9)."""

import pytest

from caredesk.channels.email.parser import parse
from caredesk.channels.email.services import build_email, receive
from caredesk.tickets.models import Message, Ticket
from caredesk.tickets.services import post_message


def raw_from(value: str) -> bytes:
    return (
        f"From: {value}\r\nTo: support@demo.caredesk.test\r\nSubject: Hi\r\n\r\nHello\r\n".encode()
    )


@pytest.mark.parametrize(
    "header",
    [
        "alice@example.com <bob@example.com>",
        '"alice@example.com" <bob@example.com>',
        "=?utf-8?q?alice=40example=2Ecom?= <bob@example.com>",
        "Alice alice@example.com <bob@example.com>",
    ],
)
def test_the_address_in_angle_brackets_is_the_sender_and_the_name_is_flagged(header):
    parsed = parse(raw_from(header))
    assert parsed.from_address == "bob@example.com"
    assert parsed.display_name_address == "alice@example.com"


@pytest.mark.parametrize(
    ("header", "name", "address"),
    [
        ("Alice <alice@example.com>", "Alice", "alice@example.com"),
        ("alice@example.com", "", "alice@example.com"),
        ('"alice@example.com" <Alice@Example.com>', "alice@example.com", "alice@example.com"),
        ("=?utf-8?q?J=C3=B6rg?= <jorg@example.com>", "Jörg", "jorg@example.com"),
    ],
)
def test_an_honest_from_is_not_flagged(header, name, address):
    parsed = parse(raw_from(header))
    assert (parsed.from_name, parsed.from_address) == (name, address)
    assert parsed.display_name_address == ""


@pytest.mark.django_db
def test_a_spoofed_name_records_the_real_sender_and_warns_the_agent(mailbox, personas, client):
    result = receive(
        raw_from("alice@example.com <bob@example.com>").replace(
            b"Subject: Hi", b"Message-ID: <spoof-1@example.com>\r\nSubject: Hi"
        )
    )
    ticket = Ticket.objects.get(pk=result.ticket_id)
    assert ticket.requester.email == "bob@example.com"
    assert ticket.requester.name != "alice@example.com"
    message = Message.objects.get(pk=result.message_id)
    assert "alice@example.com" in message.metadata["warnings"][0]
    reply = post_message(personas.alice, ticket, body_text="Answer")
    assert build_email(Message.objects.get(pk=reply.pk)).to == ["bob@example.com"]
    client.force_login(personas.admin)
    page = client.get(f"/agent/tickets/{ticket.pk}/").content.decode()
    assert "shows the address alice@example.com, but the mail came from bob@example.com" in page
