"""The HTTP client of deliveries: an aiohttp session whose connections go only to safe addresses.

The host of a webhook's URL is resolved when a connection opens, and the address connected to is the
one checked (webhooks.safety.check_address): a name that resolved to a public address when the webhook
was saved and to 127.0.0.1 now (DNS rebinding) is refused before a byte is sent. Two public hooks of
aiohttp's connector do it:

- its resolver (`SafeResolver`) refuses a name when any of its addresses is refused, so a name that mixes
  a public and a private address cannot reach the private one by failing over;
- its socket factory (`safe_socket`) checks the address each socket is made for, just before it
  connects: this covers IP-literal hosts, which aiohttp never hands to a resolver, and is the check
  against the address actually used.

DNS results are not cached (each new connection resolves again) and addresses are tried one after the
other (no happy-eyeballs race), so a refusal is an error of its own rather than one of several. TLS
verifies the certificate against the URL's host name, and the request keeps its Host header.
"""

import socket
from typing import Any

import aiohttp
from aiohappyeyeballs import AddrInfoType
from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver

from webhooks.safety import check_address

# Connections the process keeps to all receivers together; keep-alive ones live this long idle. A drain
# sends one request at a time, so the drains at once (WEBHOOK_DELIVERY_THREADS) bound what is in use.
MAX_CONNECTIONS = 100
KEEPALIVE_SECONDS = 30


class SafeResolver(ThreadedResolver):
    """getaddrinfo (on the event loop's executor), then every address checked."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        resolved = await super().resolve(host, port, family)
        for result in resolved:
            check_address(result["host"])
        return resolved


def safe_socket(addr_info: AddrInfoType) -> socket.socket:
    """The socket for one address the connector is about to connect to, once that address is allowed."""
    family, kind, proto, _, sockaddr = addr_info
    check_address(str(sockaddr[0]))
    return socket.socket(family=family, type=kind, proto=proto)


def sending_session(**options: Any) -> aiohttp.ClientSession:
    """A session for attempts (call it inside the event loop that will use it). Redirects are never
    followed (each request says `allow_redirects=False`); answers are not decompressed (attempts ask for
    `identity`: no compressed bombs to inflate); no proxy from the environment (the address checked is the
    one used); no cookies kept: one session serves every project's webhooks, and a cookie one receiver sets
    must never go to another, nor back to it (attempts are stateless)."""
    connector = aiohttp.TCPConnector(
        resolver=SafeResolver(),
        socket_factory=safe_socket,
        use_dns_cache=False,
        happy_eyeballs_delay=None,
        limit=MAX_CONNECTIONS,
        keepalive_timeout=KEEPALIVE_SECONDS,
    )
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=False,
        trust_env=False,
        **options,
    )
