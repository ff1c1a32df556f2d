"""`caredesk restore ARCHIVE --yes`: replace this instance's data with a backup."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from caredesk.core.errors import DomainError
from caredesk.operations.backup import restore_backup


class Command(BaseCommand):
    help = "Restore a backup made by `caredesk backup` (replaces all current data)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("archive")
        parser.add_argument("--yes", action="store_true", help="Confirm replacing all current data")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        if not options["yes"]:
            raise CommandError("Restoring replaces ALL current data: pass --yes to confirm.")
        try:
            manifest = restore_backup(Path(options["archive"]))
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"Restored backup from {manifest['created_at']} ({sum(manifest['counts'].values())} rows)"
        )
