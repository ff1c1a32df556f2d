"""`caredesk token create --agent E [--scope read|write]` (prints the token once), `list`, `revoke`."""

from django.core.management.base import BaseCommand, CommandError

from caredesk.accounts.models import ApiToken, User
from caredesk.accounts.services import create_token, revoke_token


class Command(BaseCommand):
    help = "Create, list or revoke API tokens."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("action", choices=["create", "list", "revoke"])
        parser.add_argument("--agent", help="The agent's email")
        parser.add_argument("--scope", choices=["read", "write"], default="write")
        parser.add_argument("--name", default="")
        parser.add_argument("--id", type=int, help="Token id (for revoke)")

    def _agent(self, email: str | None) -> User:
        if not email:
            raise CommandError("--agent EMAIL is required.")
        agent = User.objects.filter(email=email.strip().lower(), is_active=True).first()
        if agent is None:
            raise CommandError(f"No active agent with the email {email}.")
        return agent

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        action = options["action"]
        if action == "create":
            issued = create_token(
                self._agent(options["agent"]), scope=options["scope"], name=options["name"]
            )
            self.stdout.write(issued.token)
        elif action == "list":
            qs = ApiToken.objects.select_related("agent").order_by("id")
            if options["agent"]:
                qs = qs.filter(agent=self._agent(options["agent"]))
            for t in qs:
                state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
                self.stdout.write(
                    f"{t.pk}\t{t.prefix}…\t{t.agent.email}\t{t.scope}\t{t.name}\t{state}"
                )
        else:
            record = ApiToken.objects.filter(pk=options["id"]).first() if options["id"] else None
            if record is None:
                raise CommandError("--id of an existing token is required.")
            revoke_token(record)
            self.stdout.write(f"Revoked token {record.pk}")
