from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "caredesk.routing"
    label = "routing"

    def ready(self) -> None:
        from caredesk.routing import services
        from caredesk.tickets import changes

        # Last: routing assigns and commits; its own change follows the batch that caused it.
        changes.register("routing", services.push_changed, order=changes.ROUTING)
