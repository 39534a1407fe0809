"""Which webhook targets hopla may connect to: no request of a webhook reaches hopla's own network.

A URL is checked when it is saved (every address its host resolves to) and again at every attempt,
against the address the connection actually uses: a name that resolved to a public address at
creation may resolve to 127.0.0.1 or a cloud metadata address later (DNS rebinding).
"""

import ipaddress
import socket
from functools import cache
from urllib.parse import urlsplit

from django.conf import settings

from hopla.api.exceptions import ApplicationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(ApplicationError):
    """400 `unsafe_url`: a target hopla refuses to send to."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="unsafe_url")


@cache
def _allowed_networks(networks: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(network, strict=False) for network in networks)


def address_refusal(address: IPAddress) -> str | None:
    """Why hopla must not connect to `address`, or None when it may: a public unicast address, or one
    in `WEBHOOK_ALLOWED_NETWORKS`. An IPv4-mapped IPv6 address (::ffff:127.0.0.1) is judged as the
    IPv4 address it maps."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in _allowed_networks(tuple(settings.WEBHOOK_ALLOWED_NETWORKS))):
        return None
    for refused, what in (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
        (not address.is_global, "not public"),
    ):
        if refused:
            return f"{address} is a {what} address"
    return None


def check_address(address: str) -> None:
    """Raise UnsafeUrl unless hopla may connect to `address` (an IP address as text)."""
    refusal = address_refusal(ipaddress.ip_address(address.split("%", 1)[0]))
    if refusal:
        raise UnsafeUrl(f"The webhook's host resolves to an address hopla does not send to: {refusal}.")


def check_url(url: str) -> None:
    """Raise UnsafeUrl for a URL hopla must not send to: not https (unless WEBHOOK_ALLOW_HTTP), with
    credentials, without a host, or whose host resolves to a refused address (or not at all)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeUrl(f"The URL is malformed: {error}.") from error
    allowed_schemes = ("https", "http") if settings.WEBHOOK_ALLOW_HTTP else ("https",)
    if parts.scheme not in allowed_schemes:
        raise UnsafeUrl(f"Webhook URLs must use {' or '.join(allowed_schemes)}.")
    if parts.username or parts.password:
        raise UnsafeUrl("Webhook URLs may not carry credentials; use the signature to authenticate hopla.")
    if not parts.hostname:
        raise UnsafeUrl("The URL has no host.")
    try:
        resolved = socket.getaddrinfo(parts.hostname, port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnsafeUrl(f"The host {parts.hostname} does not resolve.") from error
    for *_, sockaddr in resolved:
        check_address(str(sockaddr[0]))
