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
from collections.abc import Callable
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import DATA_SIZE_DEFAULT, SMTP, Envelope, Session
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection

from caredesk.core.group_commit import GroupCommitWriter

logger = logging.getLogger("caredesk.smtp")

TRY_AGAIN = "451 4.3.0 Temporary failure, please retry"
# A batch stops growing at this many messages or bytes (one 20 MB mail is still a batch of one).
MAX_BATCH_MESSAGES = 64
MAX_BATCH_BYTES = 16 * 1024 * 1024


def _failed(envelopes: list[tuple[bytes, list[str]]], error: Exception) -> list[str]:
    if isinstance(error, DatabaseError):
        logger.warning(
            "SMTP: database unavailable, asking the senders of %d messages to retry: %s",
            len(envelopes),
            error,
        )
    else:
        logger.error("SMTP: unexpected failure storing %d messages", len(envelopes), exc_info=error)
    return [TRY_AGAIN] * len(envelopes)


class BatchWriter(GroupCommitWriter[tuple[bytes, list[str]], str]):
    """Threads that store what the SMTP sessions received, a batch at a time each
    (`CAREDESK_SMTP_WRITERS`, one by default: more make smaller batches)."""

    def __init__(self, writers: int = 1) -> None:
        super().__init__(
            # Looked up at each batch (tests stand in for it).
            lambda envelopes, answer: _store_batch(envelopes, answer),
            _failed,
            name="smtp-writer",
            threads=writers,
            max_items=MAX_BATCH_MESSAGES,
            max_size=MAX_BATCH_BYTES,
            size_of=lambda envelope: len(envelope[0]),
        )


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
        return await self.writer.submit((content, list(envelope.rcpt_tos)))


def _known(address: str) -> bool:
    """Run in a thread of the event loop's executor, which outlives this call but never closes a
    connection by itself: the connection goes back (to the pool, on PostgreSQL) before the thread
    does, else every such thread keeps one checked out until the pool runs dry."""
    from caredesk.channels.email.services import active_mailboxes

    try:
        return address.lower() in active_mailboxes()
    finally:
        connection.close()


def _store_batch(
    envelopes: list[tuple[bytes, list[str]]], answer: Callable[[list[str]], None]
) -> list[str]:
    """Store a batch; one SMTP answer per message, also given to `answer` right after the commit.
    Raises DatabaseError if the database is unavailable."""
    from caredesk.channels.email.services import ReceiveResult, receive_batch

    def accepted(results: list[ReceiveResult]) -> list[str]:
        return [f"250 2.0.0 OK queued as {result.raw_id}" for result in results]

    close_old_connections()
    try:
        results = receive_batch(
            envelopes, source="smtp", committed=lambda results: answer(accepted(results))
        )
    finally:
        # Between batches the writer holds no pooled connection (kept only where connections
        # persist, as on SQLite).
        close_old_connections()
    return accepted(results)


def max_message_bytes() -> int:
    return int(getattr(settings, "CAREDESK_EMAIL_MAX_BYTES", 40 * 1024 * 1024))


class SupportSMTP(SMTP):
    """aiosmtpd's session, accepting long lines in the message as Postfix does.

    aiosmtpd holds every line to RFC 5321's 1,000 bytes and answers a longer one with a permanent
    500; real mail breaks that (Outlook sends 11 kB HTML lines), and mail with bare LF line ends
    arrives as one long "line" up to the final CRLF. Postfix accepts both. During DATA the line
    limit is raised to the message size limit, which still bounds the message (552 past it);
    commands keep aiosmtpd's limits, so a client that has not yet named a recipient cannot make
    the server buffer more than a short line."""

    async def smtp_DATA(self, arg: str) -> None:
        command_line_limit = self.line_length_limit
        data_line_limit = (self.data_size_limit or DATA_SIZE_DEFAULT) + len(b"\r\n")
        # The stream reader's own limit decides when a line is "too long"; it has no public setter.
        self.line_length_limit = self._reader._limit = data_line_limit  # type: ignore[attr-defined]
        try:
            await super().smtp_DATA(arg)
        finally:
            self.line_length_limit = self._reader._limit = command_line_limit  # type: ignore[attr-defined]


class SupportMailController(Controller):
    """aiosmtpd's controller that also stops the handler's writer thread, and can share its port
    with the listeners of other processes (SO_REUSEPORT: the kernel spreads the connections)."""

    reuse_port = False

    def factory(self) -> SMTP:
        return SupportSMTP(self.handler, **self.SMTP_kwargs)

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

    def _trigger_server(self) -> None:
        if not self.reuse_port:
            return super()._trigger_server()  # type: ignore[no-any-return]
        # aiosmtpd checks that it is up by connecting to its port; with the port shared, the kernel
        # may hand that connection to another process's listener, and this one would never see
        # it. The session factory is invoked here instead, as the first connection would (a
        # handler that cannot be built still fails the start).
        self.loop.call_soon_threadsafe(self._factory_invoker)
        return None

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
