from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "caredesk.sla"
    label = "sla"

    def ready(self) -> None:
        from caredesk.sla import services
        from caredesk.tickets import changes

        changes.register("sla", services.on_changes, order=changes.SLA)
