from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "caredesk.automation"
    label = "automation"

    def ready(self) -> None:
        from caredesk.automation import services
        from caredesk.core import jobs
        from caredesk.tickets import changes

        changes.register("automation", services.on_ticket_events, order=changes.AUTOMATION)

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
