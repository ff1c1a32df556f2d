from django.apps import AppConfig


class EmailChannelConfig(AppConfig):
    name = "caredesk.channels.email"
    label = "email_channel"

    def ready(self) -> None:
        from caredesk.channels.email import (  # noqa: F401  (job handlers, the transport)
            services,
            transport,
            webhooks,
        )
        from caredesk.tickets.models import Channel
        from caredesk.tickets.services import OUTBOUND_CHANNELS

        OUTBOUND_CHANNELS.add(Channel.EMAIL)

        from caredesk.channels.email.demo import create_demo_mailboxes
        from caredesk.core.demo import EXTRA_LOADERS

        if create_demo_mailboxes not in EXTRA_LOADERS:
            EXTRA_LOADERS.append(create_demo_mailboxes)
