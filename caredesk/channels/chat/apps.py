from django.apps import AppConfig


class ChatChannelConfig(AppConfig):
    name = "caredesk.channels.chat"
    label = "chat_channel"

    def ready(self) -> None:
        from caredesk.channels.base import ChannelAdapter, register_channel
        from caredesk.channels.chat import realtime_inbox, services
        from caredesk.channels.chat.demo import create_demo_widget

        # Agent replies on chat tickets are shown live in the open widget; a chat ticket with no
        # open chat (an offline message, an ended chat) is answered by e-mail (the transport).
        from caredesk.channels.chat.transport import ChatTransport
        from caredesk.tickets import changes
        from caredesk.tickets.models import Channel

        register_channel(
            ChannelAdapter(
                name=Channel.CHAT,
                label="Live chat",
                delivers_live=True,
                transport=ChatTransport(),
                settings_section="widgets",
                demo=create_demo_widget,
            )
        )
        changes.register("chat-widget", services.deliver_changes, order=changes.DELIVERY)
        # Every change reaches the agents' open workspaces.
        changes.register("workspace-live", realtime_inbox.push_changes, order=changes.LIVE)
