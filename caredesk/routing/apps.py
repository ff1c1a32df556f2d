from typing import Any

from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "caredesk.routing"
    label = "routing"

    def ready(self) -> None:
        from caredesk.core.events import TicketChange, ticket_changed, tickets_changed
        from caredesk.core.prepared import PreparedInQuery, PreparedQuery
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

        routable_among = PreparedInQuery(
            lambda ticket_ids: (
                Ticket.objects.filter(
                    pk__in=ticket_ids,
                    assignee__isnull=True,
                    team__isnull=False,
                    status__in=ACTIVE_STATUSES,
                )
                .exclude(channel=Channel.CHAT)
                .order_by()
                .values_list("pk")
            ),
            "ticket_ids",
            ticket_ids=-7_000_003,
        )

        def _created_without_team(change: TicketChange) -> bool:
            """The announcer said the new ticket has no team (and nothing else gave it one):
            nothing to route, no look-up needed."""
            if change.data is None:
                return False
            created = [
                d for k, d in zip(change.kinds, change.data, strict=True) if k == EventKind.CREATED
            ]
            return bool(created) and all(d.get("team") is None for d in created)

        def on_tickets_changed(sender: Any, changes: list[TicketChange], **kwargs: Any) -> None:
            # A bulk change (a channel's batch of new tickets, the routing pass): the tickets
            # `route` would act on are found in one query per chunk, then routed in order.
            ids = [
                c.ticket_id
                for c in changes
                if EventKind.TEAM_CHANGED in c.kinds
                or (EventKind.CREATED in c.kinds and not _created_without_team(c))
            ]
            if not ids:
                return
            routable_ids = {pk for (pk,) in routable_among.rows(ticket_ids=ids)}
            for ticket_id in ids:
                if ticket_id in routable_ids:
                    services.route(Ticket(pk=ticket_id))  # `route` reads the ticket itself

        ticket_changed.connect(on_ticket_changed, dispatch_uid="routing-push", weak=False)
        tickets_changed.connect(on_tickets_changed, dispatch_uid="routing-push-bulk", weak=False)
