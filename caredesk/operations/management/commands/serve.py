"""`caredesk serve`: migrate, load the demo data on an empty database, start the background
services (job worker, SMTP listener, ...) and run the ASGI server (HTTP + WebSocket)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from caredesk.accounts.models import User
from caredesk.operations.demo import ADMIN_EMAIL, AGENTS, DEMO_DOMAIN, DEMO_PASSWORD, is_loaded

logger = logging.getLogger("caredesk.serve")

# Services started next to the web server in this process. Each takes the serve options and
# returns an object with .stop() (or None when it chose not to start).
BACKGROUND_SERVICES: list[Callable[[dict[str, Any]], Any]] = []


def start_job_worker(options: dict[str, Any]) -> Any:
    if options["no_worker"] or options["workers"] > 1:
        return None
    from huey.contrib.djhuey import HUEY

    from caredesk.core import jobs, outbox

    jobs.load_tasks()
    consumer = HUEY.create_consumer(workers=2, worker_type="thread", periodic=True)
    consumer.start()
    jobs.sweep()
    outbox.sweep()
    logger.info("in-process job worker started (2 threads)")

    class Worker:
        def stop(self) -> None:
            consumer.stop(graceful=True)

    return Worker()


def start_smtp_listener(options: dict[str, Any]) -> Any:
    if options["no_smtp"]:
        return None
    try:
        from caredesk.channels.email.listener import start_in_background
    except ImportError:
        return None
    return start_in_background(settings.CAREDESK_SMTP_HOST, settings.CAREDESK_SMTP_PORT)


BACKGROUND_SERVICES += [start_job_worker, start_smtp_listener]


class Command(BaseCommand):
    help = "Run caredesk: migrate, demo data on an empty database, background services, web server."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="Web server processes (>1: run `caredesk worker` too)",
        )
        parser.add_argument("--no-demo", action="store_true", help="Never load the demo data set")
        parser.add_argument(
            "--no-worker", action="store_true", help="Do not run the job worker in this process"
        )
        parser.add_argument("--no-smtp", action="store_true", help="Do not start the SMTP listener")
        parser.add_argument("--log-level", default="info")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        import uvicorn

        call_command("migrate", interactive=False, verbosity=0)
        empty = not User.objects.exists()
        if empty and not options["no_demo"]:
            self.stdout.write("Empty database: loading the demo data set (about 20 seconds)...")
            call_command("demo", stdout=self.stdout)
        started = [
            s for s in (service(options) for service in BACKGROUND_SERVICES) if s is not None
        ]
        url = f"http://{options['host']}:{options['port']}"
        self.stdout.write(self.style.SUCCESS(f"caredesk is running at {url}"))
        self.stdout.write(
            f"  agent workspace: {url}/agent/   help centre: {url}/help/   API: {url}/api/docs"
        )
        if is_loaded():
            self.stdout.write(
                f"  demo logins (password {DEMO_PASSWORD}): {ADMIN_EMAIL} (admin), "
                + ", ".join(f"{a[1]}@{DEMO_DOMAIN}" for a in AGENTS[1:4])
                + " (team leads), "
                + ", ".join(f"{a[1]}@{DEMO_DOMAIN}" for a in AGENTS[4:7])
                + " (agents)"
            )
        if any(True for s in started):
            self.stdout.write(f"  background: {len(started)} service(s) in this process")
        self.stdout.flush()
        try:
            uvicorn.run(
                "caredesk.asgi:application",
                host=options["host"],
                port=options["port"],
                workers=options["workers"],
                log_level=options["log_level"],
                lifespan="off",
                proxy_headers=True,
                # Open WebSockets are closed with 1012 (service restart) and clients reconnect;
                # consumers still waiting on the channel layer after this long are cancelled
                # rather than keeping a restart (or a deploy) waiting.
                timeout_graceful_shutdown=settings.CAREDESK_SHUTDOWN_GRACE_SECONDS,
                # Chat and live-workspace frames are a few hundred bytes: compressing each one
                # costs the event loop more than it saves (docs/decisions/).
                ws_per_message_deflate=False,
            )
        finally:
            for service in started:
                service.stop()
