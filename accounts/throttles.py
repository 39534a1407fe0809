"""Login and reset throttles: per client IP and per target email, rates in REST_FRAMEWORK settings."""

import hashlib

from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.models import normalize_email
from hopla.api.throttling import AnonymousRateThrottle, LiveRateThrottle


class LoginIPThrottle(AnonymousRateThrottle):
    scope = "login_ip"


class LoginEmailThrottle(LiveRateThrottle):
    """Slows password guessing on one account even when it comes from many addresses."""

    scope = "login_email"

    def email(self, request: Request) -> object:
        return request.data.get("email") if hasattr(request.data, "get") else None

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        email = self.email(request)
        if not isinstance(email, str) or not email.strip():
            return None  # the serializer will reject the body; nothing to count
        # Hashed: the email is any text the client sent (spaces, control characters, 1 MB), not a valid cache key.
        ident = hashlib.sha256(normalize_email(email).encode("utf-8", "backslashreplace")).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}


class LoginPageEmailThrottle(LoginEmailThrottle):
    """The same counter for the login page, whose form names the email `username` (Django's LoginView)."""

    def __init__(self, email: object) -> None:
        super().__init__()
        self.form_email = email

    def email(self, request: Request) -> object:
        return self.form_email


class PasswordResetThrottle(AnonymousRateThrottle):
    scope = "password_reset"


class RegisterThrottle(AnonymousRateThrottle):
    scope = "register"
