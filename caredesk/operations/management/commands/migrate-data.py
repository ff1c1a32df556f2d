"""`caredesk migrate-data --from sqlite:///... --to postgresql://...`: move an install's data."""

from django.core.management.base import BaseCommand, CommandError

from caredesk.core.errors import DomainError
from caredesk.operations.datamove import migrate_data


class Command(BaseCommand):
    help = "Copy all data from one database to another (empty) one and verify counts and checksums."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--from", dest="source", required=True, help="Source database URL")
        parser.add_argument(
            "--to", dest="target", required=True, help="Target database URL (empty)"
        )

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        try:
            counts = migrate_data(options["source"], options["target"], progress=self.stdout.write)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"Moved {sum(counts.values())} rows in {len(counts)} tables; counts and checksums verified."
        )
        self.stdout.write("Point DATABASE_URL at the new database and restart caredesk.")
