"""The server's outbox of pushes (core.realtime): in order, and in batches when the layer can."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from caredesk.core import realtime
from tests.loops import in_own_loop


@pytest.fixture
def sent(monkeypatch) -> list[list[tuple[str, dict]]]:
    """The batches handed to a layer that sends many at once (as the Redis one does)."""
    batches: list[list[tuple[str, dict]]] = []

    class Layer:
        async def group_send_many(self, messages):
            batches.append(list(messages))

    monkeypatch.setattr(realtime, "get_channel_layer", lambda: Layer())
    return batches


def test_the_server_outbox_sends_what_queued_up_as_one_batch(sent):

    async def scenario() -> None:
        outbox: asyncio.Queue = asyncio.Queue()
        for n in range(7):
            outbox.put_nowait((f"chat.{n % 2}", {"type": "chat.message", "n": n}))
        task = asyncio.create_task(realtime._drain(outbox))
        await asyncio.sleep(0.05)
        outbox.put_nowait(("team.1", {"type": "ticket.changed", "n": 7}))
        await asyncio.sleep(0.05)
        task.cancel()

    in_own_loop(scenario)
    assert [[m["n"] for _, m in batch] for batch in sent] == [[0, 1, 2, 3, 4, 5, 6], [7]]


def test_outside_the_server_a_bulk_change_is_sent_in_pipelined_batches(sent, monkeypatch):
    monkeypatch.setattr(realtime, "_server_loop", None)
    messages = [
        ([f"team.{n % 3}", "admins"], {"type": "ticket.changed", "n": n}) for n in range(300)
    ]
    with ThreadPoolExecutor(1) as pool:  # as a job's thread: no event loop running there
        pool.submit(realtime.send_batch, messages).result()
    assert [len(batch) for batch in sent] == [realtime.DRAIN_BATCH, 600 - realtime.DRAIN_BATCH]
    flat = [(group, m["n"]) for batch in sent for group, m in batch]
    assert flat[:4] == [("team.0", 0), ("admins", 0), ("team.1", 1), ("admins", 1)]
    assert flat[-1] == ("admins", 299)
