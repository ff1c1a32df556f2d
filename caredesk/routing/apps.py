from typing import Any

from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "caredesk.routing"
    label = "routing"

    def ready(self) -> None:
        from caredesk.core.events import TicketChange, ticket_changed, tickets_changed
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

        def on_ticket_changed(
            sender: Any, ticket_id: int, kinds: list[str], in_bulk: bool = False, **kwargs: Any
        ) -> None:
            if in_bulk:  # a bulk change comes once for all its tickets, below
                return
            if EventKind.CREATED in kinds or EventKind.TEAM_CHANGED in kinds:
                # Chats are offered live by the chat channel (accept / decline), not pushed here.
                # Only tickets `route` would act on: the others cost it a write transaction.
                if routable.first(ticket_id=ticket_id) is None:
                    return
                ticket = Ticket.objects.filter(pk=ticket_id).first()
                if ticket is not None:
                    services.route(ticket)

        def on_tickets_changed(sender: Any, changes: list[TicketChange], **kwargs: Any) -> None:
            # A bulk change (a channel's batch of new tickets, the routing pass): the tickets
            # `route` would act on are found in one query per chunk, then routed in order.
            ids = [
                c.ticket_id
                for c in changes
                if EventKind.CREATED in c.kinds or EventKind.TEAM_CHANGED in c.kinds
            ]
            routable_ids: set[int] = set()
            for start in range(0, len(ids), 500):
                routable_ids.update(
                    Ticket.objects.filter(
                        pk__in=ids[start : start + 500],
                        assignee__isnull=True,
                        team__isnull=False,
                        status__in=ACTIVE_STATUSES,
                    )
                    .exclude(channel=Channel.CHAT)
                    .values_list("pk", flat=True)
                )
            for ticket_id in ids:
                if ticket_id in routable_ids:
                    services.route(Ticket(pk=ticket_id))  # `route` reads the ticket itself

        ticket_changed.connect(on_ticket_changed, dispatch_uid="routing-push", weak=False)
        tickets_changed.connect(on_tickets_changed, dispatch_uid="routing-push-bulk", weak=False)
