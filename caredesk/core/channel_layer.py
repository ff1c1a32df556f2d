"""The in-process channel layer used when no Redis is configured (one server process).

Channels' InMemoryChannelLayer sweeps every channel and every group for expired messages on each
receive: with thousands of open sockets that is a full scan per delivered message (quadratic in
connections). Expiry needs no such precision, so the sweep runs at most once a second here.
"""

from __future__ import annotations

import time

from channels.layers import InMemoryChannelLayer

SWEEP_SECONDS = 1.0


class SweepingInMemoryChannelLayer(InMemoryChannelLayer):
    _last_sweep = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep < SWEEP_SECONDS:
            return
        self._last_sweep = now
        super()._clean_expired()
