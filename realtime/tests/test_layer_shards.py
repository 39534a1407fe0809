"""With several Redis hosts, hopla's blocking send publishes each group on the shard channels_redis
subscribes it on.

realtime/layers.py picks the shard with channels_redis' private `_consistent_hash` and names the group
channel as the stock layer does (DEPARTURES.md). Pub/sub channels are global to a Redis server, so only
two servers tell a wrong shard from the right one: this test starts a second one.
"""

import asyncio
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from channels_redis.pubsub import RedisPubSubChannelLayer as StockRedisPubSubChannelLayer
from django.conf import settings

from realtime.layers import RedisPubSubChannelLayer
from realtime.tests.support import WAIT, async_test


@pytest.fixture
def second_redis() -> Iterator[str]:
    """A Redis server of this test's own, without persistence."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        client = redis.Redis(port=port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert server.poll() is None, "redis-server stopped"
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        client.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(10)


@async_test
async def test_each_group_is_published_on_the_shard_its_stock_subscribers_listen_on(second_redis: str) -> None:
    hosts, prefix = [settings.REDIS_URL, second_redis], f"test-{uuid.uuid4().hex[:8]}"
    publisher = RedisPubSubChannelLayer(hosts=hosts, prefix=prefix)
    subscriber = StockRedisPubSubChannelLayer(hosts=hosts, prefix=prefix)
    channel = await subscriber.new_channel()
    servers = [redis.Redis.from_url(url) for url in hosts]
    groups: list[str] = []
    try:
        # Groups named as hopla names them, until both servers hold some (or a wrong shard could not be
        # told from the right one): the shard follows a hash of the name.
        while len(groups) < 8 or not all(server.pubsub_channels(f"{prefix}__group__*") for server in servers):
            assert len(groups) < 64, "every group landed on one shard"
            groups.append(f"project.{uuid.uuid4()}")
            await subscriber.group_add(groups[-1], channel)
        for number, group in enumerate(groups):
            message = {"type": "event.message", "n": number}
            await asyncio.to_thread(publisher.group_send_blocking, group, message)
            try:
                assert await asyncio.wait_for(subscriber.receive(channel), WAIT) == message
            except TimeoutError:
                pytest.fail(f"{group}: published on a shard its subscribers do not listen on")
        # The pipelined send of many (an import's batch): one pipeline per shard, every group on its own.
        sends = [(group, {"type": "event.message", "n": number}) for number, group in enumerate(groups)]
        await asyncio.to_thread(publisher.group_send_many_blocking, sends)
        received = [await asyncio.wait_for(subscriber.receive(channel), WAIT) for _ in sends]
        assert sorted(message["n"] for message in received) == list(range(len(groups)))
    finally:
        await subscriber.flush()
        await publisher.flush()
