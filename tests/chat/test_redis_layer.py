"""The Redis channel layer as configured for several processes, on the machine's real Redis."""

import asyncio
import os
import uuid

import pytest
import redis.asyncio as aioredis
from channels_redis.pubsub import RedisPubSubChannelLayer

from caredesk.core.channel_layer import PipelinedPubSubChannelLayer
from tests.loops import in_own_loop

REDIS = os.environ.get("CAREDESK_TEST_REDIS_URL")

pytestmark = pytest.mark.skipif(
    not REDIS, reason="REDIS LAYER TEST SKIPPED: set CAREDESK_TEST_REDIS_URL (.ci/run does)"
)


async def subscribed(prefix: str, group: str, members: int = 1) -> None:
    """Wait until Redis has the group's subscriptions: SUBSCRIBE is sent without waiting for its
    answer, and a PUBLISH from another connection could otherwise overtake it."""
    client = aioredis.Redis.from_url(REDIS)
    try:
        for _ in range(100):
            [(_, count)] = await client.pubsub_numsub(f"{prefix}__group__{group}")
            if count >= members:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"no subscription to {group} after 5 s")
    finally:
        await client.aclose()


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
            await subscribed(f"a{tag}.", "team.1")
            await subscribed(f"b{tag}.", "team.1")
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

    in_own_loop(scenario)


def test_group_send_many_publishes_in_order_to_each_group_in_one_pipeline():
    async def scenario() -> None:
        tag = uuid.uuid4().hex[:8]
        receiver = PipelinedPubSubChannelLayer(hosts=[{"address": REDIS}], prefix=f"p{tag}.")
        sender = PipelinedPubSubChannelLayer(hosts=[{"address": REDIS}], prefix=f"p{tag}.")
        try:
            agent, visitor = await receiver.new_channel(), await receiver.new_channel()
            await receiver.group_add("chat.1", agent)
            await receiver.group_add("chat.1", visitor)
            await receiver.group_add("team.1", agent)
            await subscribed(f"p{tag}.", "chat.1")
            await subscribed(f"p{tag}.", "team.1")
            await sender.group_send("team.1", {"type": "warm.up"})  # opens the connection
            assert (await asyncio.wait_for(receiver.receive(agent), 5))["type"] == "warm.up"
            connection = sender._get_layer()._shards[0]._redis
            commands: list[int] = []
            real = connection.pipeline

            def counted_pipeline(*args, **kwargs):
                commands.append(1)
                return real(*args, **kwargs)

            connection.pipeline = counted_pipeline
            batch = [("chat.1", {"type": "chat.message", "n": n}) for n in range(5)]
            batch.insert(2, ("team.1", {"type": "ticket.changed", "n": 99}))
            await sender.group_send_many(batch)
            assert commands == [1]  # one pipeline, one round trip
            to_agent = [await asyncio.wait_for(receiver.receive(agent), 5) for _ in range(6)]
            to_visitor = [await asyncio.wait_for(receiver.receive(visitor), 5) for _ in range(5)]
            assert [m["n"] for m in to_agent] == [0, 1, 99, 2, 3, 4]
            assert [m["n"] for m in to_visitor] == [0, 1, 2, 3, 4]
        finally:
            await receiver.flush()
            await sender.flush()

    in_own_loop(scenario)
