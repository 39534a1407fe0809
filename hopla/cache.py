"""One redis-py client per process for django-redis, through its documented connection-factory hook.

django-redis keeps one connection pool per process, but Django keeps a cache object per execution
context, and under ASGI each request runs in a context of its own: each request's first cache call
(the write throttle's) built a new `redis.Redis` around the shared pool, whose response-callback
table alone cost ~0.9 million instructions, ~0.1 ms of GIL per throttled write (BENCHMARKS.md,
"Contain"). redis-py's clients are thread-safe: one per pool serves every request.
"""

from typing import Any

from django_redis.pool import ConnectionFactory
from redis import Redis

_clients_by_url: dict[str, Redis] = {}  # as django-redis keys its pools: they live as long as the process


class SharedClientConnectionFactory(ConnectionFactory):
    """django-redis's `CONNECTION_FACTORY` option: `get_connection` answers the process's client for the URL."""

    def get_connection(self, params: dict[str, Any]) -> Redis:
        client = _clients_by_url.get(params["url"])
        if client is None:
            client = _clients_by_url.setdefault(params["url"], super().get_connection(params))
        return client
