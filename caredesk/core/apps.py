from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "caredesk.core"
    label = "core"

    def ready(self) -> None:
        from caredesk.core import checks  # noqa: F401 - registers the system checks
