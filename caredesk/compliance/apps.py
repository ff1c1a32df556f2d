from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "caredesk.compliance"
    label = "compliance"
