"""Django's Redis cache, with one connection pool and one client per process rather than per request.

Django keeps a cache object per execution context, and under ASGI each request runs in a context of
its own: with the stock backend every request opened a new Redis connection (14 % of a ticket
creation's time in `bench/`'s profile, for the write throttle). And every cache call built a new
`redis.Redis` around the pool, whose response-callback table alone cost ~0.1 ms of GIL per throttled
write (`python -m bench.profile --workload W3`). redis-py's pools and clients are thread-safe.
"""

from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.functional import cached_property

_pools_by_servers: dict[tuple[str, ...], dict[int, Any]] = {}
_clients_by_pool: dict[int, Any] = {}  # id(pool): the pools above live as long as the process


class SharedClientRedisCacheClient(RedisCacheClient):
    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = _clients_by_pool.get(id(pool))
        if client is None:
            client = _clients_by_pool.setdefault(id(pool), self._client(connection_pool=pool))  # type: ignore[attr-defined]
        return client


class SharedPoolRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = SharedClientRedisCacheClient

    @cached_property
    def _cache(self) -> RedisCacheClient:
        client = super()._cache
        client._pools = _pools_by_servers.setdefault(tuple(self._servers), {})  # type: ignore[attr-defined]
        return client
