from django.apps import AppConfig


class ChatChannelConfig(AppConfig):
    name = "caredesk.channels.chat"
    label = "chat_channel"
