"""A real SMTP server for outbound tests: aiosmtpd on a free port that keeps what it accepts, or
answers each DATA with the codes it is told to (a 451 then a 250, a 550, ...)."""

from __future__ import annotations

import threading
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.email.mail import free_port


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        with self.sink.lock:
            answer = self.sink.answers.pop(0) if self.sink.answers else "250 OK"
            if answer.startswith("250"):
                self.sink.received.append(
                    message_from_bytes(envelope.content, policy=policy.default)
                )
        return answer


class SmtpSink:
    """`with SmtpSink() as sink:` a listening server; `sink.received` the accepted messages."""

    def __init__(self, answers: list[str] | None = None, port: int | None = None) -> None:
        self.answers = list(answers or [])
        self.received: list[EmailMessage] = []
        self.lock = threading.Lock()
        self.port = port or free_port()
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
