"""Throttle plumbing shared by apps."""

from rest_framework.permissions import SAFE_METHODS
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class LiveRateThrottle(SimpleRateThrottle):
    """Reads its rate when used, not at import (DRF's default), so a settings change takes effect."""

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
