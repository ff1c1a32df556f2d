from django.apps import AppConfig


class EmailChannelConfig(AppConfig):
    name = "caredesk.channels.email"
    label = "email_channel"
