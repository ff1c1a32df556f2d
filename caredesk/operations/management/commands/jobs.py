"""`caredesk jobs status|sweep|probe`: look at and nudge the durable job queue."""

from django.core.management.base import BaseCommand
from django.db.models import Count

from caredesk.core import jobs
from caredesk.core.models import Job


class Command(BaseCommand):
    help = "Durable jobs: status, sweep (re-dispatch due/expired jobs), probe (enqueue test jobs)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("action", choices=["status", "sweep", "probe"])
        parser.add_argument("--count", type=int, default=1)
        parser.add_argument("--seconds", type=float, default=0)

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        if options["action"] == "sweep":
            self.stdout.write(f"Re-dispatched {jobs.sweep()} jobs")
        elif options["action"] == "probe":
            ids = [
                jobs.enqueue("system.probe", {"seconds": options["seconds"]}).pk
                for _ in range(options["count"])
            ]
            self.stdout.write(" ".join(map(str, ids)))
        else:
            for row in Job.objects.values("state").annotate(n=Count("id")).order_by("state"):
                self.stdout.write(f"{row['state']}: {row['n']}")
