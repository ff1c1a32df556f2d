from typing import Any

from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "caredesk.routing"
    label = "routing"

    def ready(self) -> None:
        from caredesk.core.events import each_ticket, ticket_changed, tickets_changed
        from caredesk.core.prepared import PreparedQuery
        from caredesk.routing import services
        from caredesk.tickets.models import ACTIVE_STATUSES, Channel, EventKind, Ticket

        # Asked for every new ticket: the ORM writes the query once per process.
        routable = PreparedQuery(
            lambda ticket_id: (
                Ticket.objects.filter(
                    pk=ticket_id,
                    assignee__isnull=True,
                    team__isnull=False,
                    status__in=ACTIVE_STATUSES,
                )
                .exclude(channel=Channel.CHAT)
                .order_by()
                .values_list("pk")[:1]
            ),
            ticket_id=-7_000_001,
        )

        def on_ticket_changed(sender: Any, ticket_id: int, kinds: list[str], **kwargs: Any) -> None:
            if EventKind.CREATED in kinds or EventKind.TEAM_CHANGED in kinds:
                # Chats are offered live by the chat channel (accept / decline), not pushed here.
                # Only tickets `route` would act on: the others cost it a write transaction.
                if routable.first(ticket_id=ticket_id) is None:
                    return
                ticket = Ticket.objects.filter(pk=ticket_id).first()
                if ticket is not None:
                    services.route(ticket)

        ticket_changed.connect(on_ticket_changed, dispatch_uid="routing-push", weak=False)
        # Bulk changes (the routing pass's own assignments among them) rarely hold new tickets.
        tickets_changed.connect(
            each_ticket(on_ticket_changed, {EventKind.CREATED, EventKind.TEAM_CHANGED}),
            dispatch_uid="routing-push-bulk",
            weak=False,
        )
