from typing import Any

from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "caredesk.routing"
    label = "routing"

    def ready(self) -> None:
        from caredesk.core.events import TicketChange, ticket_changed, tickets_changed
        from caredesk.routing import services

        def on_ticket_changed(
            sender: Any,
            ticket_id: int,
            event_ids: list[int],
            kinds: list[str],
            in_bulk: bool = False,
            **kwargs: Any,
        ) -> None:
            if not in_bulk:  # a bulk change comes once for all its tickets, below
                services.push_changed([TicketChange(ticket_id, event_ids, kinds)])

        def on_tickets_changed(sender: Any, changes: list[TicketChange], **kwargs: Any) -> None:
            services.push_changed(changes)

        ticket_changed.connect(on_ticket_changed, dispatch_uid="routing-push", weak=False)
        tickets_changed.connect(on_tickets_changed, dispatch_uid="routing-push-bulk", weak=False)
