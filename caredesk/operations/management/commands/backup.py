"""`caredesk backup [--output F]`: database + attachments in one archive."""

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from caredesk.operations.backup import create_backup


class Command(BaseCommand):
    help = "Back up the database and all attachments to a .tar.gz archive."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument(
            "--output", help="Archive path (default: DATA_DIR/backups/caredesk-<time>.tar.gz)"
        )

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        default = (
            Path(settings.DATA_DIR)
            / "backups"
            / f"caredesk-{time.strftime('%Y%m%d-%H%M%S')}.tar.gz"
        )
        output = Path(options["output"] or default)
        manifest = create_backup(output)
        rows = sum(manifest["counts"].values())
        self.stdout.write(f"Backed up {rows} rows and {len(manifest['files'])} files to {output}")
