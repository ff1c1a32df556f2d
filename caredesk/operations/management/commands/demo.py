"""`caredesk demo`: load the demo data set (teams, agents, customers, ~1,000 tickets)."""

import time

from django.core.management.base import BaseCommand

from caredesk.operations.demo import ADMIN_EMAIL, DEMO_PASSWORD, is_loaded, load_demo


class Command(BaseCommand):
    help = "Load the demo data set into this instance (does nothing if it is already there)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--tickets", type=int, default=1000)
        parser.add_argument("--customers", type=int, default=200)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        if is_loaded():
            self.stdout.write("The demo data set is already loaded.")
            return
        started = time.monotonic()
        counts = load_demo(
            tickets=options["tickets"],
            customers=options["customers"],
            seed=options["seed"],
            progress=lambda step: self.stdout.write(f"  {step} ..."),
        )
        self.stdout.write(
            f"Loaded the demo data set in {time.monotonic() - started:.1f}s: {counts}"
        )
        self.stdout.write(f"Sign in as {ADMIN_EMAIL} / {DEMO_PASSWORD}")
