"""`caredesk smtpd [--host H] [--port P] [--processes N]`: run the SMTP listener on its own.

With several processes (`CAREDESK_SMTP_PROCESSES`), each runs a listener of its own on the same
port (SO_REUSEPORT, Linux): the kernel spreads the connections over them, and each process parses
and writes its mail with its own interpreter lock. This process starts the others and stops them
when it stops.
"""

import gc
import signal
import subprocess
import sys
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from caredesk.channels.email.listener import build_controller


class Command(BaseCommand):
    help = "Run the inbound SMTP listener for the support addresses."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--host", default=settings.CAREDESK_SMTP_HOST)
        parser.add_argument("--port", type=int, default=settings.CAREDESK_SMTP_PORT)
        parser.add_argument("--processes", type=int, default=settings.CAREDESK_SMTP_PROCESSES)
        # Set on the processes started by the first one.
        parser.add_argument("--reuse-port", action="store_true", help="(internal)")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        processes = max(1, options["processes"])
        shared = processes > 1 or options["reuse_port"]
        controller = build_controller(options["host"], options["port"], reuse_port=shared)
        controller.start()
        # Everything loaded so far (Django, the apps, the listener) lives as long as the process:
        # kept out of the cyclic collector's full passes, which otherwise walk it again and again
        # while mail flows.
        gc.freeze()
        others = [
            subprocess.Popen(  # noqa: S603 - this interpreter, this command
                [
                    sys.executable,
                    "-m",
                    "caredesk",
                    "smtpd",
                    "--host",
                    options["host"],
                    "--port",
                    str(options["port"]),
                    "--processes",
                    "1",
                    "--reuse-port",
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(processes - 1)
        ]
        for other in others:  # each says when it listens
            assert other.stdout is not None
            if not other.stdout.readline():
                for started in others:
                    started.terminate()
                controller.stop()
                raise CommandError("a listener process could not start (see its error above)")
        self.stdout.write(
            f"SMTP listener on {options['host']}:{options['port']}"
            + (f" ({processes} processes)" if processes > 1 else "")
        )
        self.stdout.flush()
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        stop.wait()
        for other in others:
            other.terminate()
        controller.stop()
        for other in others:
            other.wait(timeout=60)
