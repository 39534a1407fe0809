"""Who is connecting: the access JWT in the WebSocket URL, checked exactly as the REST API checks it,
or, for hopla's own pages on the same origin, the session cookie, checked exactly as Django checks it."""

from dataclasses import dataclass
from importlib import import_module
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.contrib import auth
from django.http.cookie import parse_cookie
from rest_framework.exceptions import AuthenticationFailed

from accounts.models import User
from hopla.api.authentication import JWTAuthentication


def token_from_scope(scope: dict[str, Any]) -> str:
    """The `token` query parameter; browsers cannot set headers on a WebSocket, so it travels in the URL."""
    try:
        query = parse_qs(scope.get("query_string", b"").decode("ascii"))
    except UnicodeDecodeError:
        return ""
    return query.get("token", [""])[0]


@dataclass(frozen=True)
class Credentials:
    """Who a token authenticates, and until when (its `exp`, in seconds since the epoch)."""

    user: User
    expires_at: float


def credentials_from_token(raw_token: str) -> Credentials | None:
    """The active user an access token names, or None for a missing, malformed, expired or revoked token.

    REST's own authenticator does the work, so the stream applies the same rules: access tokens only,
    inactive users refused, tokens issued before a password change refused. The stream asks again
    whenever the user's credentials change, to close the connections the answer no longer allows.
    """
    if not raw_token:
        return None
    authenticator = JWTAuthentication()
    try:
        token = authenticator.get_validated_token(raw_token.encode())
        user = authenticator.get_user(token)
    except AuthenticationFailed:  # InvalidToken is one
        return None
    return Credentials(user=user, expires_at=float(token["exp"]))  # type: ignore[arg-type]


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def session_key_from_scope(scope: dict[str, Any]) -> str:
    """The session cookie of a same-origin page (Origin names the host it connects to), else "".

    A page of another site may open a socket to hopla in a visitor's browser, and the browser would
    send the cookie along: the cookie authenticates only when the page is hopla's own. (Scripts send
    no Origin; they authenticate with a token.)
    """
    origin, host = _header(scope, b"origin"), _header(scope, b"host")
    if not origin or not host or urlsplit(origin).netloc != host:
        return ""
    return parse_cookie(_header(scope, b"cookie")).get(settings.SESSION_COOKIE_NAME, "")


def credentials_from_session(session_key: str) -> Credentials | None:
    """The active user a session is logged in as, until the session expires; None for a session that
    ended (logout), expired, or whose password changed since (Django's own check, `auth.get_user`)."""
    if not session_key:
        return None
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    # auth.get_user reads only the request's session: the stream has a session but no request.
    user = auth.get_user(SimpleNamespace(session=session))  # type: ignore[arg-type]
    if not isinstance(user, User) or not user.is_active:
        return None
    return Credentials(user=user, expires_at=session.get_expiry_date().timestamp())
