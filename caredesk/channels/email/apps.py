from django.apps import AppConfig


class EmailChannelConfig(AppConfig):
    name = "caredesk.channels.email"
    label = "email_channel"

    def ready(self) -> None:
        from caredesk.channels.base import ChannelAdapter, register_channel
        from caredesk.channels.email import services, webhooks  # noqa: F401  (job handlers)
        from caredesk.channels.email.demo import create_demo_mailboxes
        from caredesk.channels.email.transport import EmailTransport
        from caredesk.tickets.models import Channel

        register_channel(
            ChannelAdapter(
                name=Channel.EMAIL,
                label="Email",
                parse_raw=services.parse_raw,
                transport=EmailTransport(),
                settings_section="mailboxes",
                demo=create_demo_mailboxes,
            )
        )
