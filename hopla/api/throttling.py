"""Throttle plumbing shared by apps."""

import logging

from redis.exceptions import RedisError
from rest_framework.permissions import SAFE_METHODS
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger("hopla.request")


class LiveRateThrottle(SimpleRateThrottle):
    """Reads its rate when used, not at import (DRF's default), so a settings change takes effect.

    Counters live in the cache (Redis). When it is unreachable the request is let through: an outage
    of Redis must not take the API down with it (ticket work goes on; limits resume with Redis).
    """

    def allow_request(self, request, view):  # type: ignore[no-untyped-def]
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError):
            logger.warning("throttle counters unavailable; request allowed", extra={"fields": {"scope": self.scope}})
            return True

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
