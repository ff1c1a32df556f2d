"""Group commit of visitors' chat lines: the house pattern of the SMTP listener
(channels/email/listener.py) for live chat.

The visitor consumers hand their lines to one writer thread per server process. Lines that arrive
while the writer is busy are stored together as the next batch (`services.store_visitor_lines`:
one transaction, a fixed number of statements), so a busy server pays one commit and one round of
after-commit work per batch instead of per line. Each visitor gets its answer after the commit
that holds its line: the ack (message id), or for every line of a batch the database refused an
`unavailable` error, which tells the widget to keep the line in its outbox and send it again
(client ids make the resend store it once).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from dataclasses import dataclass

from django.db import close_old_connections, connection

from caredesk.channels.chat import services as chat
from caredesk.core.errors import DomainError

logger = logging.getLogger("caredesk.chat")

# A batch stops growing at this many lines (5,000 characters each at most).
MAX_BATCH_LINES = 200


def unavailable() -> DomainError:
    return DomainError(
        "The message could not be saved yet; it will be sent again.", "unavailable", 503
    )


@dataclass
class _Pending:
    line: chat.VisitorLine
    loop: asyncio.AbstractEventLoop
    answer: asyncio.Future[chat.LineResult]


class LineWriter:
    """The thread that stores what the visitor consumers of this process received."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    async def submit(self, line: chat.VisitorLine) -> chat.LineResult:
        """Queue one line; returns once the batch holding it is committed (or refused)."""
        self._start()
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[chat.LineResult] = loop.create_future()
        self._queue.put(_Pending(line, loop, answer))
        return await answer

    def stop(self) -> None:
        """Store and answer what is queued, then stop the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=30)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="chat-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
                stop = False
                while len(batch) < MAX_BATCH_LINES:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stop = True
                        break
                    batch.append(more)
                self._write(batch)
                if stop:
                    return
        finally:
            connection.close()

    def _write(self, batch: list[_Pending]) -> None:
        answered = False

        def answer(results: list[chat.LineResult]) -> None:
            nonlocal answered
            if answered:  # the first answer given stands (a failure after the commit)
                return
            answered = True
            # One wake-up of each event loop for the whole batch (usually there is one loop).
            by_loop: dict[
                asyncio.AbstractEventLoop,
                list[tuple[asyncio.Future[chat.LineResult], chat.LineResult]],
            ] = {}
            for pending, result in zip(batch, results, strict=True):
                by_loop.setdefault(pending.loop, []).append((pending.answer, result))
            for loop, answers in by_loop.items():
                try:
                    loop.call_soon_threadsafe(_answer_all, answers)
                except RuntimeError:  # that event loop has stopped: nobody is waiting any more
                    continue

        started = time.perf_counter()
        try:
            close_old_connections()
            results = chat.store_visitor_lines([p.line for p in batch], committed=answer)
        except Exception:
            logger.exception(
                "chat: storing a batch of %d lines failed; asking to resend", len(batch)
            )
            results = [chat.LineResult(error=unavailable()) for _ in batch]
        answer(results)
        logger.debug(
            "chat: a batch of %d lines in %.1f ms",
            len(batch),
            1000 * (time.perf_counter() - started),
        )


def _answer_all(answers: list[tuple[asyncio.Future[chat.LineResult], chat.LineResult]]) -> None:
    for future, result in answers:
        if not future.done():  # the visitor has gone away meanwhile
            future.set_result(result)


_writer = LineWriter()


def line_writer() -> LineWriter:
    """This process's writer of chat lines."""
    return _writer
