"""`caredesk audit export [--output F]`: the audit log as CSV."""

import csv
import sys

from django.core.management.base import BaseCommand

from caredesk.compliance.services import search_audit


class Command(BaseCommand):
    help = "Export the audit log as CSV."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("action", choices=["export"])
        parser.add_argument("--output")
        parser.add_argument("--filter-action", default="")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        handle = open(options["output"], "w", newline="") if options["output"] else sys.stdout  # noqa: SIM115
        writer = csv.writer(handle)
        writer.writerow(["at", "actor", "action", "target_type", "target_id", "ip_address", "data"])
        for entry in search_audit(action=options["filter_action"]).iterator():
            writer.writerow(
                [
                    entry.at.isoformat(),
                    entry.actor_label,
                    entry.action,
                    entry.target_type,
                    entry.target_id,
                    entry.ip_address or "",
                    entry.data,
                ]
            )
        if options["output"]:
            handle.close()
