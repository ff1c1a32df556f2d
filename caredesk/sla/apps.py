from typing import Any

from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "caredesk.sla"
    label = "sla"

    def ready(self) -> None:
        from caredesk.core.events import TicketChange, ticket_changed, tickets_changed
        from caredesk.sla import services

        def on_ticket_changed(
            sender: Any,
            ticket_id: int,
            event_ids: list[int],
            kinds: list[str],
            in_bulk: bool = False,
            **kwargs: Any,
        ) -> None:
            if not in_bulk:  # a bulk change comes once for all its tickets, below
                services.on_event(ticket_id, kinds, event_ids)

        def on_tickets_changed(sender: Any, changes: list[TicketChange], **kwargs: Any) -> None:
            services.on_events(changes)

        ticket_changed.connect(on_ticket_changed, dispatch_uid="sla-clocks", weak=False)
        tickets_changed.connect(on_tickets_changed, dispatch_uid="sla-clocks-bulk", weak=False)
