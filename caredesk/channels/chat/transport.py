"""Live chat's transport: how an agent's reply on a chat ticket reaches a visitor who is gone.

While the chat is open (waiting or with an agent) the widget shows replies the moment they are
committed (the change contract's `chat-widget` receiver), and the outbox has nothing to do. A
chat ticket with no open chat (a message left while nobody was online, a chat that ended) is
answered by e-mail, composed and sent by the email channel's transport, as Zendesk and Chatwoot
do for offline messages.
"""

from __future__ import annotations

from caredesk.channels.base import Transport
from caredesk.channels.chat.models import ChatSession, ChatStatus
from caredesk.channels.email.transport import EmailTransport
from caredesk.core.models import Delivery
from caredesk.tickets.models import Channel


class ChatTransport(Transport):
    channel = Channel.CHAT

    def deliver(self, delivery: Delivery) -> str:
        if (
            delivery.ticket_id is not None
            and ChatSession.objects.filter(ticket_id=delivery.ticket_id)
            .exclude(status=ChatStatus.ENDED)
            .exists()
        ):
            return "widget"  # shown live in the open chat
        return EmailTransport().deliver(delivery)
