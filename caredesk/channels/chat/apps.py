from django.apps import AppConfig


class ChatChannelConfig(AppConfig):
    name = "caredesk.channels.chat"
    label = "chat_channel"

    def ready(self) -> None:
        from caredesk.channels.base import ChannelAdapter, register_channel
        from caredesk.channels.chat import realtime_inbox, services
        from caredesk.channels.chat.demo import create_demo_widget
        from caredesk.tickets import changes
        from caredesk.tickets.models import Channel

        # Agent replies on chat tickets are delivered live, to the widget (no outbox): a chat
        # line is worth nothing minutes later, and the widget resumes by message id.
        register_channel(
            ChannelAdapter(
                name=Channel.CHAT,
                label="Live chat",
                delivers_live=True,
                settings_section="widgets",
                demo=create_demo_widget,
            )
        )
        changes.register("chat-widget", services.deliver_changes, order=changes.DELIVERY)
        # Every change reaches the agents' open workspaces.
        changes.register("workspace-live", realtime_inbox.push_changes, order=changes.LIVE)
