from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "caredesk.compliance"
    label = "compliance"

    def ready(self) -> None:
        from caredesk.compliance import signals  # noqa: F401
