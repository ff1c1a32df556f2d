"""The Redis channel layer as configured for several processes, on the machine's real Redis."""

import asyncio
import os
import uuid

import pytest
from channels_redis.pubsub import RedisPubSubChannelLayer

REDIS = os.environ.get("CAREDESK_TEST_REDIS_URL")

pytestmark = pytest.mark.skipif(
    not REDIS, reason="REDIS LAYER TEST SKIPPED: set CAREDESK_TEST_REDIS_URL (.ci/run does)"
)


def test_a_group_send_reaches_the_members_of_its_installation_only():
    async def scenario() -> None:
        tag = uuid.uuid4().hex[:8]
        site_a = RedisPubSubChannelLayer(hosts=[{"address": REDIS}], prefix=f"a{tag}.")
        site_a_other_process = RedisPubSubChannelLayer(
            hosts=[{"address": REDIS}], prefix=f"a{tag}."
        )
        site_b = RedisPubSubChannelLayer(hosts=[{"address": REDIS}], prefix=f"b{tag}.")
        try:
            agent = await site_a.new_channel()
            stranger = await site_b.new_channel()
            await site_a.group_add("team.1", agent)
            await site_b.group_add("team.1", stranger)
            # Sent from another process of site A: arrives at A's member, in order, and not at B's.
            for n in range(3):
                await site_a_other_process.group_send("team.1", {"type": "ticket.changed", "n": n})
            got = [await asyncio.wait_for(site_a.receive(agent), 5) for _ in range(3)]
            assert [m["n"] for m in got] == [0, 1, 2]
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(site_b.receive(stranger), 0.5)
        finally:
            for layer in (site_a, site_a_other_process, site_b):
                await layer.flush()

    asyncio.run(scenario())
