"""The channel layer: channels_redis' pub/sub layer, plus a blocking group send for synchronous code.

Events are published from sync code (a view's on-commit hook, the worker). Through the stock layer that
meant `async_to_sync(layer.group_send)`: a hand-off to an event loop and back per event, behind an
asyncio lock that the process's publishes all queue on. `bench.profile --workload W3` put 0.34 ms of
GIL per ticket creation in it, plus event-loop work. A plain PUBLISH from the calling thread, on a
thread-safe redis-py client, sends the same bytes to the same Redis channel; the consumers, which
subscribe through the stock layer, cannot tell the difference (realtime/tests check it end to end).
"""

import threading
from typing import Any

import redis
from channels_redis.pubsub import RedisPubSubChannelLayer as StockRedisPubSubChannelLayer
from channels_redis.utils import _consistent_hash, decode_hosts
from django.core.exceptions import ImproperlyConfigured


class RedisPubSubChannelLayer(StockRedisPubSubChannelLayer):
    """`publish_timeout_seconds` bounds a blocking send: a stalled Redis must not hold the request."""

    def __init__(self, *args: Any, publish_timeout_seconds: float = 2.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        hosts = decode_hosts(kwargs.get("hosts"))
        if any("master_name" in host for host in hosts):
            raise ImproperlyConfigured("hopla's channel layer takes Redis URLs or host/port pairs, not Sentinel")
        # The stock layer's defaults (RedisPubSubLoopLayer): the same prefix names the same channels.
        self._group_prefix = f"{kwargs.get('prefix', 'asgi')}__group__"
        self._hosts = hosts
        self._timeout = publish_timeout_seconds
        self._clients: list[redis.Redis] = []
        self._clients_lock = threading.Lock()

    def group_send_blocking(self, group: str, message: dict[str, Any]) -> None:
        """What `await group_send(group, message)` does, from a thread with no event loop. Raises
        redis-py's errors (RedisError, and TimeoutError after `publish_timeout_seconds`)."""
        channel = self._group_prefix + group
        client = self._clients_by_shard()[_consistent_hash(channel, len(self._hosts))]
        client.publish(channel, self.serialize(message))

    def group_send_many_blocking(self, sends: list[tuple[str, dict[str, Any]]]) -> None:
        """`group_send_blocking` of each (group, message), in order, as one pipeline per Redis shard:
        one round trip for a batch of events (an import's) instead of one per event."""
        clients = self._clients_by_shard()
        pipelines: dict[int, Any] = {}
        for group, message in sends:
            channel = self._group_prefix + group
            shard = _consistent_hash(channel, len(self._hosts))
            if shard not in pipelines:
                pipelines[shard] = clients[shard].pipeline(transaction=False)
            pipelines[shard].publish(channel, self.serialize(message))
        for pipeline in pipelines.values():
            pipeline.execute()

    def _clients_by_shard(self) -> list[redis.Redis]:
        # Built on first use: settings import this class in processes that never publish. redis-py's
        # pool notices a fork and opens new connections in the child.
        if not self._clients:
            with self._clients_lock:
                if not self._clients:
                    self._clients = [self._client_for(host) for host in self._hosts]
        return self._clients

    def _client_for(self, host: dict[str, Any]) -> redis.Redis:
        options = {"socket_timeout": self._timeout, "socket_connect_timeout": self._timeout, **host}
        address = options.pop("address", None)
        if address is not None:
            return redis.Redis.from_url(address, **options)
        return redis.Redis(**options)
