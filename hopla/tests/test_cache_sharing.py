"""hopla's Redis cache (hopla.cache) shares one pool and one client per process, and stores what Django's does.

It works by setting private attributes of Django's RedisCache and RedisCacheClient (DEPARTURES.md): if a
new Django renames one, the assignment silently stops mattering and every request opens a connection
again. These tests fail then.
"""

import threading
import uuid

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

from hopla.cache import SharedPoolRedisCache


def _backend_of_another_context() -> SharedPoolRedisCache:
    """The cache object a request in another thread (another asgiref context under ASGI) gets."""
    found: list[SharedPoolRedisCache] = []
    thread = threading.Thread(target=lambda: found.append(caches["default"]))
    thread.start()
    thread.join()
    return found[0]


def test_each_context_gets_its_own_cache_object_but_the_same_client_and_pool() -> None:
    here, there = caches["default"], _backend_of_another_context()
    assert isinstance(here, SharedPoolRedisCache)
    assert here is not there  # Django's per-context caches: what hopla.cache works around
    for write in (True, False):
        client = here._cache.get_client(write=write)
        assert client is there._cache.get_client(write=write)
        assert client is here._cache.get_client(write=write)  # not a new redis.Redis per call either


def test_what_it_stores_reads_back_through_djangos_own_backend() -> None:
    config = settings.CACHES["default"]
    stock = RedisCache(config["LOCATION"], {"KEY_PREFIX": config["KEY_PREFIX"], "OPTIONS": config["OPTIONS"]})
    key, value = f"departures:{uuid.uuid4().hex}", {"a": [1, 2], "b": "ü"}
    caches["default"].set(key, value, 30)
    assert stock.get(key) == value
    stock.set(key, "from stock", 30)
    assert caches["default"].get(key) == "from stock"
    assert stock.delete(key)
