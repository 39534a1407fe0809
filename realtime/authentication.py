"""Who is connecting: the access JWT in the WebSocket URL, checked exactly as the REST API checks it."""

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


def user_from_token(raw_token: str) -> User | None:
    """The active user an access token names, or None for a missing, malformed, expired or revoked token.

    REST's own authenticator does the work, so the stream applies the same rules: access tokens only,
    inactive users refused, tokens issued before a password change refused.
    """
    if not raw_token:
        return None
    authenticator = JWTAuthentication()
    try:
        user = authenticator.get_user(authenticator.get_validated_token(raw_token.encode()))
    except AuthenticationFailed:  # InvalidToken is one
        return None
    return user  # type: ignore[return-value]
