from django.apps import AppConfig


class SmsChannelConfig(AppConfig):
    name = "caredesk.channels.sms"
    label = "sms_channel"

    def ready(self) -> None:
        from caredesk.channels.base import ChannelAdapter, register_channel
        from caredesk.channels.sms import services, tasks  # noqa: F401  (job handlers)
        from caredesk.channels.sms.demo import create_demo_sms
        from caredesk.channels.sms.transport import TwilioTransport
        from caredesk.tickets.models import Channel

        register_channel(
            ChannelAdapter(
                name=Channel.SMS,
                label="SMS",
                parse_raw=services.parse_raw,
                transport=TwilioTransport(),
                settings_section="sms",
                demo=create_demo_sms,
                recipient=services.reply_recipient,
            )
        )
