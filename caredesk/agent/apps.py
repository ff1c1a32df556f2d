from django.apps import AppConfig


class AgentWorkspaceConfig(AppConfig):
    name = "caredesk.agent"
    label = "agent"
