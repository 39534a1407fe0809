"""One attempt of a delivery: the Standard Webhooks request, signed, sent, and what came back.

Attempts are coroutines: they run on the sender's event loop (webhooks.sender), every drain's at once."""

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
import orjson
from django.conf import settings
from django.utils import timezone
from standardwebhooks import Webhook as Signer

from webhooks.models import Delivery, Webhook
from webhooks.safety import UnsafeUrl

USER_AGENT = "hopla-webhooks/1"
# Bodies are read to this many bytes at most: a receiver answering more is cut off (and the
# connection dropped), so a hostile one cannot hold the worker or its memory.
MAX_RESPONSE_BYTES = 64 * 1024
# What a delivery keeps of the answer's body.
KEPT_RESPONSE_BYTES = 2 * 1024


@dataclass
class Outcome:
    """What one attempt gave: a status code (none when no answer came), or an error."""

    at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class Attempted:
    """A delivery, the bytes its attempt sent, and what came of it."""

    delivery: Delivery
    body: bytes
    outcome: Outcome


def request_body(delivery: Delivery) -> bytes:
    """`{"type", "timestamp", "data"}`: the same bytes on every attempt (the timestamp is the event's)."""
    body = {"type": delivery.event_type, "timestamp": delivery.payload.get("at"), "data": delivery.payload}
    return orjson.dumps(body)


def signers(webhook: Webhook, now: datetime) -> list[Signer]:
    """The secrets that sign now: the webhook's, and the one a rotation replaced while it overlaps."""
    secrets = [webhook.secret]
    if webhook.previous_secret and webhook.previous_secret_expires_at and webhook.previous_secret_expires_at > now:
        secrets.append(webhook.previous_secret)
    return [Signer(secret) for secret in secrets]


def request_headers(delivery: Delivery, body: bytes, signed_by: list[Signer], now: datetime) -> dict[str, str]:
    event_id = str(delivery.event_id)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "accept-encoding": "identity",  # the body is capped on the wire; no compressed bombs to inflate
        "webhook-id": event_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(signer.sign(event_id, now, body) for signer in signed_by),
    }


async def attempt(session: aiohttp.ClientSession, url: str, delivery: Delivery, signed_by: list[Signer]) -> Attempted:
    """POST the delivery to the webhook's URL; never raises for what the receiver or network did."""
    body = request_body(delivery)
    now = timezone.now()
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    headers = request_headers(delivery, body, signed_by, now)
    started = time.monotonic()

    def failed(error: str) -> Attempted:
        return Attempted(delivery, body, Outcome(at=now, duration_ms=_ms_since(started), error=error))

    try:
        async with session.post(
            url, data=body, headers=headers, allow_redirects=False, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as response:
            received = await _read_capped(response)
    except UnsafeUrl as refusal:
        return failed(f"unsafe_url: {refusal.detail}")
    except TimeoutError:  # aiohttp's timeouts are TimeoutErrors: no whole answer within the time
        return failed(f"timeout: no whole answer within {timeout:g} s")
    except (aiohttp.ClientError, ValueError) as error:  # ValueError: a host name IDNA cannot encode
        return failed(f"{type(error).__name__}: {error}")
    outcome = Outcome(
        at=now,
        duration_ms=_ms_since(started),
        status_code=response.status,
        headers=_headers(response),
        # PostgreSQL's text holds no NUL character.
        body=received[:KEPT_RESPONSE_BYTES].decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
    )
    if response.status in _REDIRECTS and "location" in response.headers:
        outcome.error = f"redirect not followed: {response.status} to {response.headers['location']}"
    elif not outcome.succeeded:
        outcome.error = f"HTTP {response.status}"
    return Attempted(delivery, body, outcome)


_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _headers(response: aiohttp.ClientResponse) -> dict[str, str]:
    """The answer's headers, names in lower case, a repeated one's values joined by commas."""
    headers: dict[str, str] = {}
    for name, value in response.headers.items():
        name = name.lower()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    """The body's first MAX_RESPONSE_BYTES; the rest is never read (the connection is dropped)."""
    received = bytearray()
    while len(received) < MAX_RESPONSE_BYTES:
        chunk = await response.content.read(MAX_RESPONSE_BYTES - len(received))
        if not chunk:
            return bytes(received)
        received += chunk
    response.close()
    return bytes(received)


def outcome_fields(outcome: Outcome) -> dict[str, Any]:
    """The Delivery fields that record an attempt's outcome."""
    return {
        "last_status_code": outcome.status_code,
        "last_duration_ms": outcome.duration_ms,
        "last_error": outcome.error,
        "response_headers": outcome.headers,
        "response_body": outcome.body,
    }
