"""The channel adapter contract: one registration gives a channel its reprocessing, its outbound
delivery through the outbox, its admin page and its demo hook."""

import dataclasses
import json

import pytest

from caredesk.channels import base
from caredesk.core import outbox
from caredesk.core.models import Delivery
from caredesk.tickets import services as tickets
from caredesk.tickets.models import Channel, DeliveryStatus, Message, RawInbound

pytestmark = pytest.mark.django_db


class RecordingTransport(base.Transport):
    channel = Channel.SMS

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def deliver(self, delivery: Delivery) -> str:
        message = Message.objects.get(pk=delivery.message_id)
        self.sent.append((delivery.recipient, message.body_text))
        return f"SM{len(self.sent)}"


def parse_sms(payload: bytes, metadata: dict) -> tickets.InboundMessage:
    data = json.loads(payload)
    return tickets.InboundMessage(
        channel=Channel.SMS,
        sender=tickets.SenderIdentity(kind="phone", value=data["From"], name=""),
        subject="",
        body_text=data["Body"],
        external_id=data["MessageSid"],
    )


@pytest.fixture
def sms_channel():
    # Stands in for the real SMS channel during the test, which gets it back afterwards.
    registered = base.ADAPTERS.get(Channel.SMS)
    transport = RecordingTransport()
    adapter = base.register_channel(
        base.ChannelAdapter(name=Channel.SMS, label="SMS", parse_raw=parse_sms, transport=transport)
    )
    yield adapter
    base.ADAPTERS.pop(Channel.SMS, None)
    base.TRANSPORTS.pop(Channel.SMS, None)
    if registered is not None:
        base.register_channel(registered)


def test_email_and_chat_are_registered_with_what_they_offer():
    email, chat = base.adapter_for(Channel.EMAIL), base.adapter_for(Channel.CHAT)
    assert email is not None and email.transport is not None and email.parse_raw is not None
    assert email.settings_section == "mailboxes" and email.demo is not None
    # Chat shows replies live, and e-mails them when no chat is open (an offline message).
    assert chat is not None and chat.delivers_live and chat.transport is not None
    # Channels nobody registered deliver nothing: replies there are read in the portal.
    assert not base.delivers_replies(Channel.WEB)


def test_a_registered_channel_reprocesses_its_quarantined_records(sms_channel):
    payload = json.dumps(
        {"From": "+14155550100", "Body": "Where is my order?", "MessageSid": "SM1"}
    )
    raw = tickets.store_raw(Channel.SMS, payload.encode())
    tickets.quarantine(Channel.SMS, b"", "the database was down", raw=raw)
    result = tickets.reprocess(raw.pk)
    assert result.created_ticket and result.ticket.channel == Channel.SMS
    assert result.message.body_text == "Where is my order?"
    assert RawInbound.objects.get(pk=raw.pk).state == RawInbound.State.PROCESSED


def test_an_unregistered_channel_cannot_be_reprocessed():
    raw = tickets.store_raw(Channel.TELEGRAM, b"{}")
    with pytest.raises(Exception, match="No parser is registered for the telegram channel"):
        tickets.reprocess(raw.pk)


def test_a_reply_on_a_registered_channel_goes_out_through_its_transport(
    sms_channel, personas, django_capture_on_commit_callbacks
):
    inbound = parse_sms(
        json.dumps({"From": "+14155550100", "Body": "Hi", "MessageSid": "SM9"}).encode(), {}
    )
    ticket = tickets.ingest(inbound).ticket
    with django_capture_on_commit_callbacks(execute=True):
        reply = tickets.post_message(personas.alice, ticket, body_text="It ships today.")
    assert reply.delivery_status != DeliveryStatus.NONE  # queued for the channel's transport
    # Sent by the outbox's job after the commit (jobs run at once under the test settings).
    delivery = Delivery.objects.get(message=reply)
    assert sms_channel.transport.sent == [(delivery.recipient, "It ships today.")]
    assert delivery.state == "sent"
    # Handing the same delivery out again (a duplicate task, the sweep) sends nothing more.
    outbox.deliver(delivery.pk)
    assert len(sms_channel.transport.sent) == 1


def test_a_transport_for_another_channel_is_refused():
    class Wrong(base.Transport):
        channel = Channel.EMAIL

    with pytest.raises(ValueError, match="sends another channel"):
        base.register_channel(
            base.ChannelAdapter(name=Channel.WHATSAPP, label="WhatsApp", transport=Wrong())
        )
    assert base.adapter_for(Channel.WHATSAPP) is None


def test_sms_is_registered_and_names_a_replys_recipient():
    sms = base.adapter_for(Channel.SMS)
    assert sms is not None and sms.transport is not None and sms.parse_raw is not None
    assert sms.settings_section == "sms" and sms.demo is not None and sms.recipient is not None


def test_the_recipient_hook_addresses_a_reply(sms_channel, personas):
    base.register_channel(
        dataclasses.replace(sms_channel, recipient=lambda message: message.ticket.requester.phone)
    )
    inbound = parse_sms(
        json.dumps({"From": "+14155550100", "Body": "Hi", "MessageSid": "SM10"}).encode(), {}
    )
    ticket = tickets.ingest(inbound).ticket
    reply = tickets.post_message(personas.alice, ticket, body_text="Hello")
    assert Delivery.objects.get(message=reply).recipient == "+14155550100"
