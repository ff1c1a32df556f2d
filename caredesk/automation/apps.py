from typing import Any

from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "caredesk.automation"
    label = "automation"

    def ready(self) -> None:
        from caredesk.automation import services
        from caredesk.core import jobs
        from caredesk.core.events import TicketChange, ticket_changed, tickets_changed

        def on_ticket_changed(
            sender: Any,
            ticket_id: int,
            event_ids: list[int],
            kinds: list[str],
            in_bulk: bool = False,
            **kwargs: Any,
        ) -> None:
            if not in_bulk:  # a bulk change comes once for all its tickets, below
                services.on_ticket_event(
                    ticket_id,
                    kinds,
                    event_ids,
                    actor_kind=kwargs.get("actor_kind"),
                    messages=kwargs.get("messages"),
                )

        def on_tickets_changed(sender: Any, changes: list[TicketChange], **kwargs: Any) -> None:
            services.on_ticket_events(changes)

        ticket_changed.connect(on_ticket_changed, dispatch_uid="automation-triggers", weak=False)
        tickets_changed.connect(
            on_tickets_changed, dispatch_uid="automation-triggers-bulk", weak=False
        )

        from django.db.models.signals import post_delete, post_save

        from caredesk.automation.models import Trigger

        post_save.connect(services.forget_triggers, sender=Trigger, dispatch_uid="trigger-saved")
        post_delete.connect(
            services.forget_triggers, sender=Trigger, dispatch_uid="trigger-deleted"
        )

        @jobs.job_handler("automation.webhook")
        def webhook(payload: dict) -> None:
            import httpx

            from caredesk.tickets.models import Ticket

            ticket = (
                Ticket.objects.filter(pk=payload["ticket_id"])
                .values("id", "subject", "status", "priority")
                .first()
            )
            httpx.post(
                payload["url"], json={"rule": payload.get("rule"), "ticket": ticket}, timeout=10
            ).raise_for_status()
