"""`caredesk createadmin --email E --password P`: a non-interactive first admin."""

from django.core.management.base import BaseCommand, CommandError

from caredesk.accounts.models import Role, Tier
from caredesk.accounts.services import create_agent
from caredesk.core.errors import DomainError


class Command(BaseCommand):
    help = "Create an admin agent (non-interactive)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--name", default="Administrator")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        try:
            agent = create_agent(
                email=options["email"],
                name=options["name"],
                password=options["password"],
                role=Role.ADMIN,
                tier=Tier.LEAD,
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Created admin {agent.email}")
