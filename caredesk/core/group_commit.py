"""Group commit for the channels' inbound traffic (SMTP sessions, chat visitors).

The event loop hands each item to writer threads and waits. A writer takes what arrived while it
was busy as its next batch and stores the batch in one go (`store`: one transaction, a fixed
number of statements), so a busy server pays one commit and one round of after-commit work per
batch instead of per item. Every sender gets its answer after the commit that holds its item, or,
for every item of a batch that could not be stored, the answer `failed` gives (ask to retry):
nothing is acknowledged that is not committed.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.db import connection

Item = TypeVar("Item")
Answer = TypeVar("Answer")


@dataclass
class Pending(Generic[Item, Answer]):
    item: Item
    loop: asyncio.AbstractEventLoop
    answer: asyncio.Future[Answer]


class GroupCommitWriter(Generic[Item, Answer]):
    """`store(items, answer)` stores a batch, calls `answer(answers)` right after its commit and
    returns the answers (one per item, in order); if it raises, every item of the batch gets
    `failed(items, error)`. A batch stops growing at `max_items`, or once the items' `size_of`
    reaches `max_size`."""

    def __init__(
        self,
        store: Callable[[list[Item], Callable[[list[Answer]], None]], list[Answer]],
        failed: Callable[[list[Item], Exception], list[Answer]],
        *,
        name: str,
        threads: int = 1,
        max_items: int,
        max_size: int | None = None,
        size_of: Callable[[Item], int] | None = None,
    ) -> None:
        self._store = store
        self._failed = failed
        self._name = name
        self._count = max(1, threads)
        self._max_items = max_items
        self._max_size = max_size
        self._size_of = size_of
        self._queue: queue.SimpleQueue[Pending[Item, Answer] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    async def submit(self, item: Item) -> Answer:
        """Queue one item; returns its answer once the batch holding it is committed (or
        refused)."""
        self._start()
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Answer] = loop.create_future()
        self._queue.put(Pending(item, loop, answer))
        return await answer

    def stop(self) -> None:
        """Store and answer what is queued, then stop the threads."""
        with self._lock:
            threads, self._threads = self._threads, []
        for _ in threads:
            self._queue.put(None)  # one each: a thread stops at the first it takes
        for thread in threads:
            thread.join(timeout=30)

    def _start(self) -> None:
        with self._lock:
            if not self._threads:
                self._threads = [
                    threading.Thread(target=self._run, name=f"{self._name}-{n}", daemon=True)
                    for n in range(self._count)
                ]
                for thread in self._threads:
                    thread.start()

    def _run(self) -> None:
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
                size = self._size_of(first.item) if self._size_of else 0
                stop = False
                while len(batch) < self._max_items and (
                    self._max_size is None or size < self._max_size
                ):
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stop = True  # after this batch
                        break
                    batch.append(more)
                    size += self._size_of(more.item) if self._size_of else 0
                self._write(batch)
                if stop:
                    return
        finally:
            connection.close()

    def _write(self, batch: list[Pending[Item, Answer]]) -> None:
        answered = False

        def answer(answers: list[Answer]) -> None:
            nonlocal answered
            if answered:  # the first answer given stands (a failure after the commit)
                return
            answered = True
            # One wake-up of each event loop for the whole batch, not one per item.
            by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Answer], Answer]]]
            by_loop = {}
            for pending, result in zip(batch, answers, strict=True):
                by_loop.setdefault(pending.loop, []).append((pending.answer, result))
            for loop, futures in by_loop.items():
                try:
                    loop.call_soon_threadsafe(_answer_all, futures)
                except RuntimeError:  # that event loop has stopped: nobody is waiting any more
                    continue

        items = [pending.item for pending in batch]
        try:
            answers = self._store(items, answer)
        except Exception as error:
            answers = self._failed(items, error)
        # Answered already right after the commit, unless the batch failed before it (a failure
        # after the commit does not take an acknowledgement back).
        answer(answers)


def _answer_all(futures: list[tuple[asyncio.Future[Answer], Answer]]) -> None:
    for future, result in futures:
        if not future.done():  # the sender has gone away meanwhile
            future.set_result(result)
