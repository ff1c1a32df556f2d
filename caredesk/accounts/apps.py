from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "caredesk.accounts"
    label = "accounts"

    def ready(self) -> None:
        from caredesk.accounts.twofactor import connect_signals

        connect_signals()
