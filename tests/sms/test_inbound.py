"""Inbound texts: a ticket per phone number's open conversation, idempotent by MessageSid,
pictures fetched from Twilio after the commit."""

import pytest

from caredesk.customers.models import Identity
from caredesk.tickets import services as tickets
from caredesk.tickets.models import Attachment, Channel, Message, RawInbound, Status, Ticket
from tests.sms.conftest import CUSTOMER, text

pytestmark = pytest.mark.django_db


def sid(n: int) -> str:
    return f"SM{n:032d}"


def test_a_text_opens_a_ticket_and_the_next_one_threads_into_it(client, account, personas):
    text(client, account, "My order never came", sid(1), sender="(415) 555-2671")
    ticket = Ticket.objects.get()
    assert ticket.channel == Channel.SMS and ticket.subject == "My order never came"
    identity = Identity.objects.get(customer=ticket.requester)
    assert (identity.kind, identity.value) == ("phone", CUSTOMER)  # E.164
    raw = RawInbound.objects.get(external_id=sid(1))
    assert raw.state == RawInbound.State.PROCESSED and b"My+order" in raw.payload
    assert Message.objects.get(external_id=sid(1)).raw_id == raw.pk

    text(client, account, "Order 1234", sid(2))
    assert Ticket.objects.count() == 1
    assert list(ticket.messages.values_list("body_text", flat=True)) == [
        "My order never came",
        "Order 1234",
    ]
    # Another number is another conversation.
    text(client, account, "Hi", sid(3), sender="+14155550199")
    assert Ticket.objects.count() == 2


def test_a_text_after_the_ticket_was_solved_opens_a_new_one(client, account, personas):
    text(client, account, "Where is it?", sid(1))
    first = Ticket.objects.get()
    tickets.change_status(personas.admin, first, Status.SOLVED)
    text(client, account, "Another question", sid(2))
    assert Ticket.objects.count() == 2
    first.refresh_from_db()
    assert first.status == Status.SOLVED and first.messages.count() == 1
    second = Ticket.objects.exclude(pk=first.pk).get()
    assert second.requester_id == first.requester_id and second.thread_key != first.thread_key


def test_the_same_message_sid_twice_makes_one_message(client, account):
    assert text(client, account, "Hello", sid(7)).status_code == 200
    assert text(client, account, "Hello", sid(7)).status_code == 200
    assert Message.objects.filter(external_id=sid(7)).count() == 1
    assert Ticket.objects.count() == 1 and RawInbound.objects.count() == 1


def test_a_text_from_what_is_not_a_phone_number_is_quarantined(client, account):
    # A sender the inbound pipeline cannot take: kept raw, quarantined, never dropped.
    response = text(client, account, "Hello", sid(8), sender="12")
    assert response.status_code == 200
    raw = RawInbound.objects.get(external_id=sid(8))
    assert raw.state == RawInbound.State.QUARANTINED and "phone number" in raw.error
    assert not Ticket.objects.exists()


def test_pictures_are_fetched_from_twilio_and_attached(
    client, account, twilio, settings, tmp_path, personas, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    media_path = f"/2010-04-01/Accounts/{account.account_sid}/Messages/{sid(9)}/Media/ME1"
    twilio.media[media_path] = ("image/png", b"\x89PNG fake picture")
    with django_capture_on_commit_callbacks(execute=True):  # fetched by a job after the commit
        response = text(
            client,
            account,
            "",
            sid(9),
            NumMedia="2",
            MediaUrl0=f"https://api.twilio.com{media_path}",
            MediaContentType0="image/png",
            MediaUrl1="https://elsewhere.example/2010-04-01/Accounts/AC1/Messages/SM9/Media/gone",
            MediaContentType1="image/jpeg",
        )
    assert response.status_code == 200
    message = Message.objects.get(external_id=sid(9))
    attachment = Attachment.objects.get(message=message)
    assert (
        attachment.content_type == "image/png" and attachment.file.read() == b"\x89PNG fake picture"
    )
    # Fetched from the configured API base (never the URL's own host), with the account's login.
    gone = "/2010-04-01/Accounts/AC1/Messages/SM9/Media/gone"
    assert [r.path for r in twilio.requests] == [media_path, gone]
    assert twilio.requests[0].authorization == twilio.basic_auth()
    # The picture that could not be fetched is noted on the message, which is kept.
    [error] = message.metadata["media_errors"]
    assert "picture-2.jpg" in error and "404" in error
    assert message.ticket.subject == f"Picture message from {CUSTOMER}"
    client.force_login(personas.admin)
    page = client.get(f"/agent/tickets/{message.ticket_id}/").content.decode()
    assert "Picture missing:" in page and "picture-1.png" in page


def test_a_quarantined_text_is_reprocessed_through_the_sms_parser(account):
    from urllib.parse import urlencode

    form = {"MessageSid": sid(11), "From": CUSTOMER, "To": account.phone_number, "Body": "Hi"}
    raw = tickets.store_raw(
        Channel.SMS, urlencode(form).encode(), external_id=sid(11), metadata={"account": account.pk}
    )
    tickets.quarantine(Channel.SMS, b"", "the database was down", raw=raw)
    result = tickets.reprocess(raw.pk)
    assert result.created_ticket and result.ticket.channel == Channel.SMS
    assert result.message.external_id == sid(11) and result.message.raw_id == raw.pk
    assert result.ticket.thread_key.startswith(f"sms:{account.pk}:{CUSTOMER}:")
    assert RawInbound.objects.get(pk=raw.pk).state == RawInbound.State.PROCESSED


def test_a_text_goes_to_the_sms_ticket_an_agent_opened_for_the_customer(client, account, personas):
    from caredesk.customers.services import find_or_create_customer

    customer, _ = find_or_create_customer("phone", CUSTOMER)
    opened = tickets.create_ticket(
        personas.alice,
        subject="Your new card",
        requester=customer,
        body_text="Internal: card sent by post.",
        channel=Channel.SMS,
    )
    assert opened.thread_key == ""
    text(client, account, "Great, thanks", sid(12))
    assert Message.objects.get(external_id=sid(12)).ticket_id == opened.pk
    assert Ticket.objects.count() == 1
