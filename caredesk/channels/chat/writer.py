"""Group commit of visitors' chat lines (`core.group_commit`, as the SMTP listener does).

The visitor consumers hand their lines to one writer thread per server process. Lines that arrive
while the writer is busy are stored together as the next batch (`services.store_visitor_lines`:
one transaction, a fixed number of statements), so a busy server pays one commit and one round of
after-commit work per batch instead of per line. Each visitor gets its answer after the commit
that holds its line: the ack (message id), or for every line of a batch the database refused an
`unavailable` error, which tells the widget to keep the line in its outbox and send it again
(client ids make the resend store it once).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import close_old_connections

from caredesk.channels.chat import services as chat
from caredesk.core.errors import DomainError
from caredesk.core.group_commit import GroupCommitWriter

logger = logging.getLogger("caredesk.chat")

# A batch stops growing at this many lines (5,000 characters each at most).
MAX_BATCH_LINES = 200


def unavailable() -> DomainError:
    return DomainError(
        "The message could not be saved yet; it will be sent again.", "unavailable", 503
    )


def _store(
    lines: list[chat.VisitorLine], answer: Callable[[list[chat.LineResult]], None]
) -> list[chat.LineResult]:
    close_old_connections()
    try:
        return chat.store_visitor_lines(lines, committed=answer)
    finally:
        # Between batches the writer holds no pooled connection (PostgreSQL): an idle writer
        # thread kept one checked out, and the test database could not be dropped after it.
        close_old_connections()


def _failed(lines: list[chat.VisitorLine], error: Exception) -> list[chat.LineResult]:
    logger.error(
        "chat: storing a batch of %d lines failed; asking to resend",
        len(lines),
        exc_info=error,
    )
    return [chat.LineResult(error=unavailable()) for _ in lines]


class LineWriter(GroupCommitWriter[chat.VisitorLine, chat.LineResult]):
    """The thread that stores what the visitor consumers of this process received."""

    def __init__(self) -> None:
        super().__init__(_store, _failed, name="chat-writer", max_items=MAX_BATCH_LINES)


_writer = LineWriter()


def line_writer() -> LineWriter:
    """This process's writer of chat lines."""
    return _writer
