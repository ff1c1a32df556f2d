"""A stranger cannot join someone else's ticket by naming it (issue #17, item 1).

Ticket numbers are sequential and Message-IDs travel in every quote, so an attacker can write
`[#1021]` in a subject or put a real Message-ID in References or In-Reply-To. Such mail must
open a ticket of its own (linked to the one it named), add no CC, and never put the attacker
among the people who read the conversation in the portal or receive its replies by mail.
"""

import smtplib

import pytest
from django.core.cache import cache
from django.test import Client

from caredesk.channels.email.listener import build_controller
from caredesk.channels.email.models import Mailbox
from caredesk.channels.email.services import build_email, receive, receive_batch
from caredesk.customers.models import Customer
from caredesk.tickets.models import LinkKind, Message, Ticket, TicketLink
from caredesk.tickets.services import (
    InboundMessage,
    SenderIdentity,
    customer_tickets,
    ingest,
    post_message,
)
from tests.email.mail import SUPPORT, free_port, make

REQUESTER = "jo@example.test"
ATTACKER = "mallory@evil.test"
SECRET = "My account number is 12-3456 and my address is 1 Elm Street."


@pytest.fixture
def mailbox(db, personas):
    cache.clear()
    return Mailbox.objects.create(address=SUPPORT, name="Support", team=personas.billing)


def victim_ticket(cc: str | None = None) -> Ticket:
    """The requester's ticket, with a private first message and an attachment."""
    result = receive(
        make(
            sender=REQUESTER,
            subject="Help please",
            body=SECRET,
            message_id="<victim-1@example.test>",
            attachments=[("statement.pdf", "application/pdf", b"%PDF-1.4 private")],
            cc=cc,
        )
    )
    assert result.outcome == "created", result
    return Ticket.objects.get(pk=result.ticket_id)


def assert_kept_out(ticket: Ticket, result_ticket_id: int | None, personas) -> None:
    """The attacker's mail is on a new ticket linked to the one it named, and the attacker is
    nowhere near the named ticket: not CC, not in the portal, not among reply recipients."""
    assert result_ticket_id is not None and result_ticket_id != ticket.pk
    own = Ticket.objects.get(pk=result_ticket_id)
    assert own.requester.email == ATTACKER
    assert TicketLink.objects.filter(source=own, target=ticket, kind=LinkKind.RELATED).exists()
    assert list(ticket.cc.values_list("email", flat=True)) == []
    assert set(ticket.messages.values_list("author_customer__email", flat=True)) == {REQUESTER}
    attacker = Customer.objects.get(email=ATTACKER)
    assert list(customer_tickets(attacker)) == [own]
    portal = Client()
    session = portal.session
    session["portal_customer_id"] = attacker.pk
    session.save()
    listing = portal.get("/help/requests/").content.decode()
    assert f"/help/requests/{ticket.pk}/" not in listing
    page = portal.get(f"/help/requests/{ticket.pk}/")
    assert page.status_code == 404
    assert SECRET not in page.content.decode()
    reply = post_message(personas.alice, ticket, body_text="Here is your account summary.")
    email = build_email(Message.objects.get(pk=reply.pk))
    assert ATTACKER not in [*email.to, *email.cc]
    assert email.to == [REQUESTER]


@pytest.mark.django_db
def test_a_ticket_tag_in_the_subject_does_not_let_a_stranger_in(mailbox, personas):
    ticket = victim_ticket()
    result = receive(
        make(sender=ATTACKER, subject=f"Re: Help please [#{ticket.pk}]", body="send it to me")
    )
    assert result.outcome == "created"
    assert_kept_out(ticket, result.ticket_id, personas)


@pytest.mark.django_db
def test_references_to_a_real_message_do_not_let_a_stranger_in(mailbox, personas):
    ticket = victim_ticket()
    result = receive(
        make(
            sender=ATTACKER,
            subject="Re: Help please",
            headers={"References": "<victim-1@example.test>"},
        )
    )
    assert result.outcome == "created"
    assert_kept_out(ticket, result.ticket_id, personas)


@pytest.mark.django_db
def test_in_reply_to_a_real_message_does_not_let_a_stranger_in(mailbox, personas):
    ticket = victim_ticket()
    result = receive(
        make(
            sender=ATTACKER,
            subject="Re: Help please",
            headers={"In-Reply-To": "<victim-1@example.test>"},
            cc="accomplice@evil.test",
        )
    )
    assert result.outcome == "created"
    assert_kept_out(ticket, result.ticket_id, personas)
    # The stranger's own CC list goes on the stranger's own ticket only.
    own = Ticket.objects.get(pk=result.ticket_id)
    assert list(own.cc.values_list("email", flat=True)) == ["accomplice@evil.test"]


@pytest.mark.django_db
def test_the_batch_path_keeps_a_stranger_out_and_still_threads_the_requester(mailbox, personas):
    ticket = victim_ticket()
    results = receive_batch(
        [
            (
                make(
                    sender=ATTACKER,
                    subject="Re: Help please",
                    headers={"References": "<victim-1@example.test>"},
                    message_id="<attack-1@evil.test>",
                ),
                [SUPPORT],
            ),
            (
                make(
                    sender=REQUESTER,
                    subject="Re: Help please",
                    body="Any news?",
                    headers={"In-Reply-To": "<victim-1@example.test>"},
                ),
                [SUPPORT],
            ),
            (make(sender="new@example.test", subject="Unrelated", body="Hello"), [SUPPORT]),
        ]
    )
    assert [r.outcome for r in results] == ["created", "threaded", "created"]
    assert results[1].ticket_id == ticket.pk
    assert_kept_out(ticket, results[0].ticket_id, personas)


@pytest.mark.django_db
def test_the_agent_is_told_which_ticket_the_stranger_named(mailbox, personas, client):
    ticket = victim_ticket()
    result = receive(make(sender=ATTACKER, subject=f"Re: Help please [#{ticket.pk}]"))
    client.force_login(personas.admin)
    page = client.get(f"/agent/tickets/{result.ticket_id}/").content.decode()
    assert f"not on ticket #{ticket.pk}" in page


@pytest.mark.django_db
def test_the_requester_threads_by_tag_references_and_in_reply_to(mailbox):
    ticket = victim_ticket()
    outcomes = [
        receive(make(sender=REQUESTER, subject=f"Re: Help please [#{ticket.pk}]", body="one")),
        receive(
            make(
                sender="JO@Example.test",  # the same address in other letters
                subject="Another subject",
                headers={"References": "<victim-1@example.test>"},
            )
        ),
        receive(
            make(
                sender=REQUESTER,
                subject="Third subject",
                headers={"In-Reply-To": "<victim-1@example.test>"},
            )
        ),
    ]
    assert [(r.outcome, r.ticket_id) for r in outcomes] == [("threaded", ticket.pk)] * 3
    assert Ticket.objects.count() == 1


@pytest.mark.django_db
def test_another_address_of_the_same_customer_threads(mailbox):
    from caredesk.customers.services import add_identity

    ticket = victim_ticket()
    add_identity(ticket.requester, "email", "jo.work@example.test")
    result = receive(make(sender="jo.work@example.test", subject=f"Re: Help please [#{ticket.pk}]"))
    assert (result.outcome, result.ticket_id) == ("threaded", ticket.pk)


@pytest.mark.django_db
def test_a_cc_the_requester_added_still_threads_but_adds_no_cc_of_its_own(mailbox):
    ticket = victim_ticket(cc="boss@example.test")
    assert list(ticket.cc.values_list("email", flat=True)) == ["boss@example.test"]
    result = receive(
        make(
            sender="boss@example.test",
            subject="Re: Help please",
            headers={"References": "<victim-1@example.test>"},
            cc="friend@elsewhere.test",
        )
    )
    assert (result.outcome, result.ticket_id) == ("threaded", ticket.pk)
    # CCs come from the requester's own mail, not from another participant's.
    assert list(ticket.cc.values_list("email", flat=True)) == ["boss@example.test"]
    # The requester adding someone does put them on the ticket.
    receive(
        make(
            sender=REQUESTER,
            subject=f"Re: Help please [#{ticket.pk}]",
            cc="partner@example.test",
        )
    )
    assert sorted(ticket.cc.values_list("email", flat=True)) == [
        "boss@example.test",
        "partner@example.test",
    ]


@pytest.mark.django_db
def test_a_chat_thread_key_does_not_let_another_visitor_in():
    first = ingest(
        InboundMessage(
            channel="chat",
            sender=SenderIdentity("chat", "visitor-1"),
            body_text=SECRET,
            external_id="chat:abc:1",
            thread_key="chat:abc",
        )
    )
    for i, claim in enumerate(({"thread_key": "chat:abc"}, {"ticket_hint": first.ticket.pk})):
        other = ingest(
            InboundMessage(
                channel="chat",
                sender=SenderIdentity("chat", "visitor-2"),
                body_text="let me in",
                external_id=f"chat:zzz:{i}",
                **claim,
            )
        )
        assert other.created_ticket and other.ticket.pk != first.ticket.pk
    assert not first.ticket.cc.exists()
    assert first.ticket.messages.count() == 1
    own = ingest(
        InboundMessage(
            channel="chat",
            sender=SenderIdentity("chat", "visitor-1"),
            body_text="still me",
            external_id="chat:abc:2",
            thread_key="chat:abc",
        )
    )
    assert own.ticket.pk == first.ticket.pk


@pytest.mark.django_db(transaction=True)
def test_a_stranger_through_the_real_smtp_listener_is_kept_out(mailbox, personas, settings):
    settings.CAREDESK_EMAIL_MAX_BYTES = 2 * 1024 * 1024
    ticket = victim_ticket()
    controller = build_controller("127.0.0.1", free_port())
    controller.start()
    try:
        with smtplib.SMTP(controller.hostname, controller.port, timeout=20) as client:
            client.sendmail(
                ATTACKER,
                [SUPPORT],
                make(
                    sender=ATTACKER,
                    subject=f"Re: Help please [#{ticket.pk}]",
                    headers={
                        "In-Reply-To": "<victim-1@example.test>",
                        "References": "<victim-1@example.test>",
                    },
                    message_id="<smtp-attack@evil.test>",
                ),
            )
    finally:
        controller.stop()
    landed = Message.objects.get(external_id="<smtp-attack@evil.test>")
    assert_kept_out(ticket, landed.ticket_id, personas)
