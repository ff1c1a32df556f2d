"""Running async test scenarios from sync tests."""

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor


def in_own_loop(scenario: Callable[[], Awaitable[None]]) -> None:
    """Run an async scenario on a fresh event loop in a thread of its own (a browser test in the
    same process may have left a loop running in this one)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, scenario()).result()
