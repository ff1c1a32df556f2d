"""`caredesk retention [--dry-run]`: apply retention policies now, or report what they would do."""

from django.core.management.base import BaseCommand

from caredesk.compliance.services import apply_retention


class Command(BaseCommand):
    help = "Apply the retention policies (or report with --dry-run)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        report = apply_retention(dry_run=options["dry_run"])
        verb = "would affect" if report.dry_run else "affected"
        for row in report.policies:
            self.stdout.write(
                f"{row['policy']}: {row['action']} {verb} {row['tickets']} tickets, {row['attachments']} attachments"
            )
        self.stdout.write(
            f"Total: {report.total} tickets{' (dry run, nothing changed)' if report.dry_run else ''}"
        )
