"""Throttle plumbing shared by apps."""

import hashlib
import logging
import uuid

from django.core.cache import DEFAULT_CACHE_ALIAS, BaseCache, caches
from django.core.cache import cache as default_cache
from django_redis.cache import RedisCache
from redis.exceptions import NoScriptError, RedisError
from rest_framework.permissions import SAFE_METHODS
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger("hopla.request")

# DRF's sliding window (drop the requests older than the duration; refuse at the limit, else record
# this one), done by Redis in one round trip: DRF's own path is a GET and a SET of a pickled list, two
# round trips per write (4.4 % of a ticket creation's CPU in bench/'s profile) and not atomic, so two
# concurrent requests could both be counted as one. The window is a sorted set scored by time.
# Returns {1} when allowed, {0, count, oldest score} when refused (what wait() needs).
_SLIDING_WINDOW = """
local now = tonumber(ARGV[1])
local duration = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - duration)
local count = redis.call('ZCARD', KEYS[1])
if count >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, count, oldest[2] or ARGV[1]}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(duration * 1000))
return {1}
"""
_SLIDING_WINDOW_SHA = hashlib.sha1(_SLIDING_WINDOW.encode()).hexdigest()


class LiveRateThrottle(SimpleRateThrottle):
    """Reads its rate when used, not at import (DRF's default), so a settings change takes effect.

    Counters live in the cache (Redis). When it is unreachable the request is let through: an outage
    of Redis must not take the API down with it (ticket work goes on; limits resume with Redis).
    """

    def allow_request(self, request, view):  # type: ignore[no-untyped-def]
        try:
            backend = self._backend()
            if isinstance(backend, RedisCache) and self.rate is not None:
                return self._allow_in_redis(backend, request, view)
            return super().allow_request(request, view)
        except (RedisError, OSError):
            logger.warning("throttle counters unavailable; request allowed", extra={"fields": {"scope": self.scope}})
            return True

    def _backend(self) -> BaseCache:
        # DRF's `cache` is Django's proxy to the default cache; the backend behind it tells what it is.
        return caches[DEFAULT_CACHE_ALIAS] if self.cache is default_cache else self.cache

    def _allow_in_redis(self, backend: RedisCache, request, view) -> bool:  # type: ignore[no-untyped-def]
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        # Not DRF's key: that one holds a pickled list, this one a sorted set (WRONGTYPE if they met).
        key = backend.make_and_validate_key(f"{self.key}:window")
        client = backend.client.get_client(write=True)  # the raw redis-py client, as django_redis.get_redis_connection
        self.now = self.timer()
        # The member only has to be unique: two requests may share a timestamp.
        args = (key, repr(self.now), self.duration, self.num_requests, uuid.uuid4().hex)  # type: ignore[attr-defined]
        try:
            reply = client.evalsha(_SLIDING_WINDOW_SHA, 1, *args)
        except NoScriptError:  # a restarted or flushed Redis: EVAL loads it again
            reply = client.eval(_SLIDING_WINDOW, 1, *args)
        if int(reply[0]) == 1:
            return True
        # DRF's wait() reads the window from self.history (newest first): only its length and oldest entry count.
        self.history = [float(reply[2])] * int(reply[1])
        return self.throttle_failure()

    def get_rate(self) -> str | None:
        rates: dict[str, str] = api_settings.DEFAULT_THROTTLE_RATES  # type: ignore[assignment]
        return rates[str(self.scope)]


class AnonymousRateThrottle(LiveRateThrottle):
    """Counted per client address."""

    def get_cache_key(self, request, view):  # type: ignore[no-untyped-def]
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class UserWriteThrottle(LiveRateThrottle):
    """Caps the writes (POST, PATCH, DELETE) of each signed-in user; reads are not counted."""

    scope = "user_write"

    def get_cache_key(self, request, view):  # type: ignore[no-untyped-def]
        if request.method in SAFE_METHODS or not request.user or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}
