from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "caredesk.surveys"
    label = "surveys"

    def ready(self) -> None:
        from caredesk.surveys import services
        from caredesk.tickets import changes

        # After the triggers (a trigger may reopen a ticket in the same batch) and before
        # routing, which commits batches of its own.
        changes.register("surveys", services.on_changes, order=changes.AUTOMATION + 50)
