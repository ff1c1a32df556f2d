from django.apps import AppConfig


class AssistConfig(AppConfig):
    name = "caredesk.assist"
    label = "assist"
