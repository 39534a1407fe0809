"""The Redis cache gives every request the process's one redis-py client (hopla.cache).

Django keeps a cache object per execution context (under ASGI, per request); django-redis keeps one
pool per process, and hopla's factory, plugged in through django-redis's documented
`CONNECTION_FACTORY` option, one client. If a new django-redis stopped building its clients through
`get_connection`, each request would build a client again (BENCHMARKS.md, "Contain"): this fails then.
"""

import threading

from django.core.cache import caches
from django_redis import get_redis_connection


def _client_of_another_context() -> tuple[object, object]:
    """The cache object a request in another thread (another asgiref context under ASGI) gets, and its client."""
    found: list[tuple[object, object]] = []
    thread = threading.Thread(target=lambda: found.append((caches["default"], get_redis_connection("default"))))
    thread.start()
    thread.join()
    return found[0]


def test_each_context_gets_its_own_cache_object_but_the_same_client() -> None:
    backend, client = caches["default"], get_redis_connection("default")
    other_backend, other_client = _client_of_another_context()
    assert backend is not other_backend  # Django's per-context caches
    assert client is other_client
    assert client is get_redis_connection("default", write=False)
