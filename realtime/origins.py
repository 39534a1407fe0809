"""Which web pages may open the event stream: the Origin check that guards browsers' WebSockets."""

from typing import Any
from urllib.parse import ParseResult

from channels.security.websocket import OriginValidator
from django.conf import settings


class BrowserOriginValidator(OriginValidator):
    """Channels' origin check, except that a handshake without an Origin header is let through.

    The check stops a page on another site from opening a socket in a visitor's browser. Browsers
    always send Origin on a WebSocket handshake, so a handshake without one comes from a script or a
    service (the dashboards' collectors), which could send any Origin it liked anyway. Refusing those
    would protect nothing: such a client authenticates with a token it must hold; the session cookie
    a browser adds by itself counts only when Origin names the very host the socket connects to
    (realtime.authentication.session_key_from_scope: hopla's own pages). A browser page is accepted
    from the site's own hosts and from the origins the API already trusts for CORS.
    """

    def valid_origin(self, parsed_origin: ParseResult | None) -> bool:
        return parsed_origin is None or self.validate_origin(parsed_origin)


def origin_validator(application: Any) -> BrowserOriginValidator:
    """Wrap the WebSocket application with the origin check configured from settings."""
    return BrowserOriginValidator(application, [*settings.ALLOWED_HOSTS, *settings.CORS_ALLOWED_ORIGINS])
