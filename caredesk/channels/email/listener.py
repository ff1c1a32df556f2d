"""The built-in SMTP listener (aiosmtpd). It answers 250 only after the message is committed,
4xx when the database is unavailable (the sending server retries), 5xx for unknown recipients and
oversize mail."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.conf import settings
from django.db import DatabaseError, close_old_connections

logger = logging.getLogger("caredesk.smtp")


class SupportMailHandler:
    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        try:
            known = await asyncio.to_thread(_known, address)
        except DatabaseError:
            return "451 4.3.0 Temporary failure, please retry"
        if not known:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", errors="surrogateescape")
        try:
            result = await asyncio.to_thread(_store, content, list(envelope.rcpt_tos))
        except DatabaseError as exc:
            logger.warning("SMTP: database unavailable, asking the sender to retry: %s", exc)
            return "451 4.3.0 Temporary failure, please retry"
        except Exception:
            logger.exception("SMTP: unexpected failure")
            return "451 4.3.0 Temporary failure, please retry"
        return f"250 2.0.0 OK queued as {result}"


def _known(address: str) -> bool:
    from caredesk.channels.email.services import support_addresses

    close_old_connections()
    return address.lower() in support_addresses()


def _store(content: bytes, recipients: list[str]) -> int:
    from caredesk.channels.email.services import receive

    close_old_connections()
    return receive(content, recipients=recipients, source="smtp").raw_id


def max_message_bytes() -> int:
    return int(getattr(settings, "CAREDESK_EMAIL_MAX_BYTES", 40 * 1024 * 1024))


def build_controller(host: str, port: int) -> Controller:
    return Controller(
        SupportMailHandler(),
        hostname=host,
        port=port,
        data_size_limit=max_message_bytes(),
        ready_timeout=10,
        server_kwargs={"decode_data": False},
    )


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
