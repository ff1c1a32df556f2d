"""`caredesk smtpd [--host H] [--port P]`: run the SMTP listener on its own."""

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from caredesk.channels.email.listener import build_controller


class Command(BaseCommand):
    help = "Run the inbound SMTP listener for the support addresses."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--host", default=settings.CAREDESK_SMTP_HOST)
        parser.add_argument("--port", type=int, default=settings.CAREDESK_SMTP_PORT)

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        controller = build_controller(options["host"], options["port"])
        controller.start()
        self.stdout.write(f"SMTP listener on {options['host']}:{options['port']}")
        self.stdout.flush()
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        stop.wait()
        controller.stop()
