from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Running caredesk: the server and worker commands, the demo data set, backups and moving
    data between databases. It sits above every domain app (it may import any of them; none
    imports it)."""

    name = "caredesk.operations"
    label = "operations"
