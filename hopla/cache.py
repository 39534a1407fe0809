"""Django's Redis cache, with one connection pool per process rather than one per request.

Django keeps a cache object per execution context, and under ASGI each request runs in a context of
its own: with the stock backend every request opened a new Redis connection (14 % of a ticket
creation's time in `bench/`'s profile, for the write throttle). redis-py pools are thread-safe.
"""

from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.functional import cached_property

_pools_by_servers: dict[tuple[str, ...], dict[int, Any]] = {}


class SharedPoolRedisCache(RedisCache):
    @cached_property
    def _cache(self) -> RedisCacheClient:
        client = super()._cache
        client._pools = _pools_by_servers.setdefault(tuple(self._servers), {})  # type: ignore[attr-defined]
        return client
