"""The HTTP client of deliveries: httpx over an httpcore pool whose connections go only to safe addresses.

The host of a webhook's URL is resolved here, when a connection opens, and the address connected to
is the one checked (webhooks.safety.check_address): a name that resolved to a public address when the
webhook was saved and to 127.0.0.1 now (DNS rebinding) is refused before a byte is sent. TLS still
verifies the certificate against the URL's host name (httpcore passes it as `server_hostname`), and
the request keeps its Host header: only the TCP connect goes to the checked address.

httpx's own HTTPTransport takes no network backend (httpx 0.29), so this is the custom transport the
httpx documentation describes ("Custom transports"): a BaseTransport over `httpcore.ConnectionPool`,
both public interfaces.
"""

import socket
import threading
from collections.abc import Iterable, Iterator
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpcore
import httpx

from webhooks.safety import UnsafeUrl, check_address

# What a caller of httpx expects to catch: httpcore's errors, as the httpx classes of the same name.
_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.TimeoutException, httpx.TimeoutException),
)


def _as_httpx_error(error: Exception) -> Exception:
    for raised, answered in _ERRORS:
        if isinstance(error, raised):
            return answered(str(error))
    return error


class SafeNetworkBackend(httpcore.NetworkBackend):
    """httpcore's socket backend, connecting only to an address webhooks.safety allows."""

    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            resolved = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as error:
            raise httpcore.ConnectError(f"{host} does not resolve: {error}") from error
        # Every address the name has must be safe: trying the next one after a refusal would let a
        # name that mixes a public and a private address reach the private one.
        addresses = [str(sockaddr[0]) for *_, sockaddr in resolved]
        for address in addresses:
            check_address(address)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return _OneSendStream(self._backend.connect_tcp(address, port, timeout, local_address, socket_options))
            except httpcore.ConnectError as error:
                last_error = error
        raise last_error or httpcore.ConnectError(f"{host} has no address")

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _OneSendStream(httpcore.NetworkStream):
    """A connection that sends a request's bytes in one go: httpcore writes the head and the body
    separately, two system calls, each of which lets go of the GIL and hands it to another drain
    thread (on 2 cores a thread switch apiece). Writes are kept until the answer is read or the
    buffer holds WRITE_BUFFER_BYTES; an HTTP/1.1 server answers only after the whole request anyway.
    A send that fails then still fails the attempt, as a write error."""

    WRITE_BUFFER_BYTES = 64 * 1024

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream
        self._waiting = bytearray()
        self._timeout: float | None = None

    def _flush(self) -> None:
        if self._waiting:
            waiting, self._waiting = bytes(self._waiting), bytearray()
            self._stream.write(waiting, self._timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._waiting += buffer
        self._timeout = timeout
        if len(self._waiting) >= self.WRITE_BUFFER_BYTES:
            self._flush()

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self._flush()
        return self._stream.read(max_bytes, timeout)

    def close(self) -> None:
        self._waiting.clear()  # a request not finished when its connection closes is not sent
        self._stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        self._flush()
        return _OneSendStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _ResponseStream(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._stream
        except Exception as error:
            raise _as_httpx_error(error) from error

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class SafeTransport(httpx.BaseTransport):
    """httpx requests over an httpcore pool that uses SafeNetworkBackend."""

    def __init__(self, *, limits: httpx.Limits) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=SafeNetworkBackend(),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, Iterable)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            response = self._pool.handle_request(core_request)
        except UnsafeUrl:
            raise
        except Exception as error:
            raise _as_httpx_error(error) from error
        assert isinstance(response.stream, Iterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


_per_thread = threading.local()


def sending_client(timeout_seconds: float) -> httpx.Client:
    """The calling thread's client for attempts, kept alive across jobs so that connections to a
    receiver are reused. One per drain thread rather than one shared: the threads otherwise take turns
    on the shared pool's locks for every request."""
    clients: dict[float, httpx.Client] = _per_thread.__dict__.setdefault("clients", {})
    if timeout_seconds not in clients:
        clients[timeout_seconds] = _client(timeout_seconds)
    return clients[timeout_seconds]


def _client(timeout_seconds: float) -> httpx.Client:
    """Redirects are never followed: a 3xx answer is a failed attempt."""
    limits = httpx.Limits(max_connections=20, max_keepalive_connections=20, keepalive_expiry=30)
    return httpx.Client(
        transport=SafeTransport(limits=limits),
        timeout=httpx.Timeout(timeout_seconds),
        follow_redirects=False,
        trust_env=False,  # never through a proxy from the environment: the address checked is the one used
        # One client serves every project's webhooks: a cookie one receiver sets must never go to another
        # (nor back to it: attempts are stateless). A policy that allows no domain keeps none.
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
    )
