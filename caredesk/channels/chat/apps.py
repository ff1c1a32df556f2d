from django.apps import AppConfig


class ChatChannelConfig(AppConfig):
    name = "caredesk.channels.chat"
    label = "chat_channel"

    def ready(self) -> None:
        from caredesk.channels.chat import realtime_inbox, services
        from caredesk.tickets import changes
        from caredesk.tickets.models import Channel
        from caredesk.tickets.services import OUTBOUND_CHANNELS

        # Agent replies on chat tickets are delivered live, to the widget.
        OUTBOUND_CHANNELS.add(Channel.CHAT)
        changes.register("chat-widget", services.deliver_changes, order=changes.DELIVERY)
        # Every change reaches the agents' open workspaces.
        changes.register("workspace-live", realtime_inbox.push_changes, order=changes.LIVE)

        from caredesk.channels.chat.demo import create_demo_widget
        from caredesk.core.demo import EXTRA_LOADERS

        if create_demo_widget not in EXTRA_LOADERS:
            EXTRA_LOADERS.append(create_demo_widget)
