"""The server's outbox of pushes (core.realtime): in order, and in batches when the layer can."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

from caredesk.core import realtime


def in_own_loop(scenario) -> None:
    """Run an async scenario on a fresh event loop in a thread of its own (a browser test in the
    same process may have left a loop running in this one)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, scenario()).result()


def test_the_server_outbox_sends_what_queued_up_as_one_batch(monkeypatch):
    sent: list[list[tuple[str, dict]]] = []

    class Layer:
        async def group_send_many(self, messages):
            sent.append(list(messages))

    monkeypatch.setattr(realtime, "get_channel_layer", lambda: Layer())

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
