from typing import Any

from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "caredesk.sla"
    label = "sla"

    def ready(self) -> None:
        from caredesk.core.events import ticket_changed
        from caredesk.sla import services

        def on_ticket_changed(
            sender: Any, ticket_id: int, event_ids: list[int], kinds: list[str], **kwargs: Any
        ) -> None:
            services.on_event(ticket_id, kinds, event_ids)

        ticket_changed.connect(on_ticket_changed, dispatch_uid="sla-clocks", weak=False)
