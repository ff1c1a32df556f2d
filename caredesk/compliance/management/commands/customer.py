"""`caredesk customer export|erase ID`: data subject requests from the command line (audited)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from caredesk.compliance.services import erase_customer, export_customer
from caredesk.core.errors import DomainError
from caredesk.customers.services import get_customer


class Command(BaseCommand):
    help = "Export (ZIP) or erase a customer's personal data."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("action", choices=["export", "erase"])
        parser.add_argument("customer_id", type=int)
        parser.add_argument(
            "--output", help="Where to write the export archive (default customer-ID-export.zip)"
        )
        parser.add_argument("--yes", action="store_true", help="Erase without asking")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        try:
            customer = get_customer(options["customer_id"])
            if options["action"] == "export":
                path = Path(options["output"] or f"customer-{customer.pk}-export.zip")
                path.write_bytes(export_customer(None, customer))
                self.stdout.write(f"Exported customer {customer.pk} to {path}")
            else:
                if not options["yes"]:
                    raise CommandError("Erasure cannot be undone: pass --yes to confirm.")
                summary = erase_customer(None, customer)
                self.stdout.write(f"Erased customer {customer.pk}: {summary}")
        except DomainError as exc:
            raise CommandError(exc.message) from exc
