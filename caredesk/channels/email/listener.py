"""The built-in SMTP listener (aiosmtpd). It answers 250 only after the message is committed,
4xx when the database is unavailable (the sending server retries), 5xx for unknown recipients and
oversize mail.

Group commit: the SMTP sessions hand their messages to one writer thread. Messages that arrive
while the writer is busy are written together as the next batch (`services.receive_batch`: the raw
records of the batch in one transaction, then the processing in one transaction with a savepoint
per message), so a burst costs two commits per batch instead of two per message. Each client gets
its answer after the commit that holds its message: 250, or 451 for every message of a batch the
database refused.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection

logger = logging.getLogger("caredesk.smtp")

TRY_AGAIN = "451 4.3.0 Temporary failure, please retry"
# A batch stops growing at this many messages or bytes (one 20 MB mail is still a batch of one).
MAX_BATCH_MESSAGES = 64
MAX_BATCH_BYTES = 16 * 1024 * 1024


@dataclass
class _Pending:
    content: bytes
    recipients: list[str]
    loop: asyncio.AbstractEventLoop
    answer: asyncio.Future[str]


class BatchWriter:
    """Threads that store what the SMTP sessions received, a batch at a time each
    (`CAREDESK_SMTP_WRITERS`: one on SQLite, where there is one writer at a time anyway)."""

    def __init__(self, writers: int = 1) -> None:
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._writers = max(1, writers)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    async def submit(self, content: bytes, recipients: list[str]) -> str:
        """Queue one message; returns the SMTP answer once its batch is committed (or refused)."""
        self._start()
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[str] = loop.create_future()
        self._queue.put(_Pending(content, recipients, loop, answer))
        return await answer

    def stop(self) -> None:
        with self._lock:
            threads, self._threads = self._threads, []
        for _ in threads:
            self._queue.put(None)
        for thread in threads:
            thread.join(timeout=30)

    def _start(self) -> None:
        with self._lock:
            if not self._threads:
                self._threads = [
                    threading.Thread(target=self._run, name=f"smtp-writer-{i}", daemon=True)
                    for i in range(self._writers)
                ]
                for thread in self._threads:
                    thread.start()

    def _run(self) -> None:
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch, size = [first], len(first.content)
                while len(batch) < MAX_BATCH_MESSAGES and size < MAX_BATCH_BYTES:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        self._queue.put(None)  # this thread stops after this batch
                        break
                    batch.append(more)
                    size += len(more.content)
                logger.debug("SMTP: writing a batch of %d messages", len(batch))
                self._write(batch)
        finally:
            connection.close()

    def _write(self, batch: list[_Pending]) -> None:
        answered = False

        def answer(answers: list[str]) -> None:
            nonlocal answered
            if answered:  # the first answer given stands
                return
            answered = True
            # One wake-up of each event loop for the whole batch, not one per message.
            by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[str], str]]] = {}
            for pending, text in zip(batch, answers, strict=True):
                by_loop.setdefault(pending.loop, []).append((pending.answer, text))
            for loop, futures in by_loop.items():
                try:
                    loop.call_soon_threadsafe(_answer_all, futures)
                except RuntimeError:  # the listener has stopped: nobody is waiting any more
                    continue

        try:
            answers = _store_batch([(p.content, p.recipients) for p in batch], answer)
        except DatabaseError as exc:
            logger.warning(
                "SMTP: database unavailable, asking the senders of %d messages to retry: %s",
                len(batch),
                exc,
            )
            answers = [TRY_AGAIN] * len(batch)
        except Exception:
            logger.exception("SMTP: unexpected failure storing %d messages", len(batch))
            answers = [TRY_AGAIN] * len(batch)
        # Answered already right after the commit, unless the batch failed before it (a failure
        # after the commit does not take a 250 back).
        answer(answers)


def _answer_all(futures: list[tuple[asyncio.Future[str], str]]) -> None:
    for future, answer in futures:
        if not future.done():  # answered already, or the session has gone away meanwhile
            future.set_result(answer)


class SupportMailHandler:
    def __init__(self) -> None:
        self.writer = BatchWriter(int(getattr(settings, "CAREDESK_SMTP_WRITERS", 1)))

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        from caredesk.channels.email.services import cached_mailboxes

        mailboxes = cached_mailboxes()
        try:
            known = (
                address.lower() in mailboxes
                if mailboxes is not None
                else await asyncio.to_thread(_known, address)
            )
        except DatabaseError:
            return TRY_AGAIN
        if not known:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", errors="surrogateescape")
        return await self.writer.submit(content, list(envelope.rcpt_tos))


def _known(address: str) -> bool:
    from caredesk.channels.email.services import active_mailboxes

    close_old_connections()
    return address.lower() in active_mailboxes()


def _store_batch(
    envelopes: list[tuple[bytes, list[str]]], answer: Callable[[list[str]], None]
) -> list[str]:
    """Store a batch; one SMTP answer per message, also given to `answer` right after the commit.
    Raises DatabaseError if the database is unavailable."""
    from caredesk.channels.email.services import ReceiveResult, receive_batch

    def accepted(results: list[ReceiveResult]) -> list[str]:
        return [f"250 2.0.0 OK queued as {result.raw_id}" for result in results]

    close_old_connections()
    results = receive_batch(
        envelopes, source="smtp", committed=lambda results: answer(accepted(results))
    )
    return accepted(results)


def max_message_bytes() -> int:
    return int(getattr(settings, "CAREDESK_EMAIL_MAX_BYTES", 40 * 1024 * 1024))


class SupportMailController(Controller):
    """aiosmtpd's controller that also stops the handler's writer thread, and can share its port
    with the listeners of other processes (SO_REUSEPORT: the kernel spreads the connections)."""

    reuse_port = False

    def _create_server(self) -> Any:
        if not self.reuse_port:
            return super()._create_server()
        return self.loop.create_server(
            self._factory_invoker,
            host=self.hostname,
            port=self.port,
            ssl=self.ssl_context,
            reuse_port=True,
        )

    def stop(self, no_assert: bool = False) -> None:
        handler = self.handler
        if isinstance(handler, SupportMailHandler):
            handler.writer.stop()  # first: what is queued is written and answered
        super().stop(no_assert=no_assert)


def build_controller(host: str, port: int, *, reuse_port: bool = False) -> Controller:
    controller = SupportMailController(
        SupportMailHandler(),
        hostname=host,
        port=port,
        data_size_limit=max_message_bytes(),
        ready_timeout=10,
        server_kwargs={"decode_data": False},
    )
    controller.reuse_port = reuse_port
    return controller


def start_in_background(host: str, port: int) -> Any:
    """Start the listener in a thread of this process; returns the controller (has .stop())."""
    controller = build_controller(host, port)
    try:
        controller.start()
    except (OSError, RuntimeError) as exc:
        logger.error("SMTP listener could not start on %s:%s: %s", host, port, exc)
        return None
    logger.info("SMTP listener on %s:%s", host, port)
    return controller
