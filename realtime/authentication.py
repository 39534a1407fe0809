"""Who is connecting: the access JWT in the WebSocket URL, checked exactly as the REST API checks it."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

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
