"""`caredesk worker`: run the Huey job consumer (same as run_huey)."""

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the background job worker (Huey consumer)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--workers", type=int, default=None, help="Worker threads")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        extra = ["--workers", str(options["workers"])] if options["workers"] else []
        # Jobs left behind by a worker that died are handed out again at start.
        from caredesk.core import jobs, outbox

        # run_huey imports the tasks too, but the sweep below dispatches before it does.
        jobs.load_tasks()
        jobs.sweep()
        outbox.sweep()
        call_command("run_huey", *extra)
