"""Channel layers.

`SweepingInMemoryChannelLayer`, used when no Redis is configured (one server process): Channels'
InMemoryChannelLayer sweeps every channel and every group for expired messages on each receive:
with thousands of open sockets that is a full scan per delivered message (quadratic in
connections). Expiry needs no such precision, so the sweep runs at most once a second here.

`PipelinedPubSubChannelLayer`, used with Redis (several processes): channels-redis' pub/sub layer
with `group_send_many`, which publishes what the server's outbox holds in one pipeline (one round
trip) instead of one `PUBLISH` and one round trip each, in order.
"""

from __future__ import annotations

import time
from typing import Any

from channels.layers import InMemoryChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer

SWEEP_SECONDS = 1.0


class SweepingInMemoryChannelLayer(InMemoryChannelLayer):
    _last_sweep = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep < SWEEP_SECONDS:
            return
        self._last_sweep = now
        super()._clean_expired()


class PipelinedPubSubChannelLayer(RedisPubSubChannelLayer):
    async def group_send_many(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        """`group_send` each (group, message), in order, with one round trip per Redis shard.

        Built on the pub/sub layer's own naming, sharding and connection (its lock keeps a
        subscribe from interleaving); tests/chat/test_redis_layer.py runs it against a real Redis
        so that a change in channels-redis shows there."""
        layer = self._get_layer()
        by_shard: dict[Any, list[tuple[str, bytes]]] = {}
        for group, message in messages:
            channel = layer._get_group_channel_name(group)
            shard = layer._get_shard(channel)
            by_shard.setdefault(shard, []).append((channel, self.serialize(message)))
        for shard, items in by_shard.items():
            async with shard._lock:
                shard._ensure_redis()
                pipe = shard._redis.pipeline(transaction=False)
                for channel, data in items:
                    pipe.publish(channel, data)
                await pipe.execute()
