"""A chat ticket with no open chat (an offline message, an ended chat) is answered by e-mail; an
open chat gets its replies in the widget only."""

import pytest
from django.core import mail

from caredesk.channels.chat import services as chat
from caredesk.channels.chat.models import ChatStatus
from caredesk.core.models import Delivery
from caredesk.tickets.models import Channel
from caredesk.tickets.services import post_message

pytestmark = pytest.mark.django_db


def visitor(widget, visitor_id="v-offline"):
    return chat.VisitorContext(widget=widget, visitor_id=visitor_id)


def test_an_offline_message_is_a_chat_ticket_answered_by_email(
    widget, personas, django_capture_on_commit_callbacks
):
    ticket = chat.offline_request(
        visitor(widget),
        text="Can you call me back?",
        email="eve@example.test",
        name="Eve",
        client_id="o1",
    )
    assert ticket.channel == Channel.CHAT
    with django_capture_on_commit_callbacks(execute=True):
        reply = post_message(personas.alice, ticket, body_text="Sure, tomorrow at ten.")
    delivery = Delivery.objects.get(message=reply)
    assert delivery.state == "sent"
    assert [m.to for m in mail.outbox] == [["eve@example.test"]]
    assert "Sure, tomorrow at ten." in mail.outbox[0].body
    assert f"[#{ticket.pk}]" in mail.outbox[0].subject  # the customer's answer threads back


def test_an_open_chat_gets_its_replies_in_the_widget_not_by_email(
    widget, personas, django_capture_on_commit_callbacks
):
    session, _ = chat.start_chat(
        visitor(widget, "v-open"), text="Hi", client_id="c1", name="Olu", email="olu@example.test"
    )
    assert session.status != ChatStatus.ENDED
    with django_capture_on_commit_callbacks(execute=True):
        reply = post_message(personas.alice, session.ticket, body_text="Hello Olu!")
    assert mail.outbox == []
    assert Delivery.objects.get(message=reply).state == "sent"  # shown in the open widget
