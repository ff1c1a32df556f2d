from django.apps import AppConfig


class ChatChannelConfig(AppConfig):
    name = "caredesk.channels.chat"
    label = "chat_channel"

    def ready(self) -> None:
        from caredesk.channels.chat import realtime_inbox, services
        from caredesk.core.events import each_ticket, ticket_changed, tickets_changed
        from caredesk.tickets.models import Channel, EventKind
        from caredesk.tickets.services import OUTBOUND_CHANNELS

        # Agent replies on chat tickets are delivered live (to the widget) by on_ticket_changed.
        OUTBOUND_CHANNELS.add(Channel.CHAT)
        ticket_changed.connect(services.on_ticket_changed, dispatch_uid="chat-delivery", weak=False)
        tickets_changed.connect(
            each_ticket(services.on_ticket_changed, {EventKind.MESSAGE_ADDED}),
            dispatch_uid="chat-delivery-bulk",
            weak=False,
        )
        ticket_changed.connect(
            realtime_inbox.on_ticket_changed, dispatch_uid="workspace-live", weak=False
        )
        tickets_changed.connect(
            realtime_inbox.on_tickets_changed, dispatch_uid="workspace-live-bulk", weak=False
        )

        from caredesk.channels.chat.demo import create_demo_widget
        from caredesk.core.demo import EXTRA_LOADERS

        if create_demo_widget not in EXTRA_LOADERS:
            EXTRA_LOADERS.append(create_demo_widget)
