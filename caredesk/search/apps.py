from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "caredesk.search"
    label = "search"

    def ready(self) -> None:
        from caredesk.search import signals

        signals.connect_articles()
