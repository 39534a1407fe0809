"""Login and reset throttles: per client IP and per target email, rates in REST_FRAMEWORK settings."""

from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.models import normalize_email
from hopla.api.throttling import AnonymousRateThrottle, LiveRateThrottle


class LoginIPThrottle(AnonymousRateThrottle):
    scope = "login_ip"


class LoginEmailThrottle(LiveRateThrottle):
    """Slows password guessing on one account even when it comes from many addresses."""

    scope = "login_email"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        email = request.data.get("email") if hasattr(request.data, "get") else None
        if not isinstance(email, str) or not email.strip():
            return None  # the serializer will reject the body; nothing to count
        return self.cache_format % {"scope": self.scope, "ident": normalize_email(email)}


class PasswordResetThrottle(AnonymousRateThrottle):
    scope = "password_reset"


class RegisterThrottle(AnonymousRateThrottle):
    scope = "register"
