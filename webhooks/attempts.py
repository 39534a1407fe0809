"""One attempt of a delivery: the Standard Webhooks request, signed, sent, and what came back."""

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import orjson
from django.conf import settings
from django.utils import timezone
from standardwebhooks import Webhook as Signer

from webhooks.models import Delivery, Webhook
from webhooks.safety import UnsafeUrl
from webhooks.transport import sending_client

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


def attempt(webhook: Webhook, delivery: Delivery, body: bytes, signed_by: list[Signer]) -> Outcome:
    """POST the delivery to the webhook's URL; never raises for what the receiver or network did."""
    now = timezone.now()
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    headers = request_headers(delivery, body, signed_by, now)
    started = time.monotonic()

    def elapsed_ms() -> int:
        return round((time.monotonic() - started) * 1000)

    try:
        with sending_client(timeout).stream("POST", webhook.url, content=body, headers=headers) as response:
            received = _read_capped(response, started + timeout)
    except UnsafeUrl as refusal:
        return Outcome(at=now, duration_ms=elapsed_ms(), error=f"unsafe_url: {refusal.detail}")
    except _TooSlow:
        return Outcome(at=now, duration_ms=elapsed_ms(), error=f"timeout: no whole answer within {timeout:g} s")
    except httpx.TimeoutException as error:
        return Outcome(at=now, duration_ms=elapsed_ms(), error=f"timeout: {type(error).__name__} after {timeout:g} s")
    except httpx.HTTPError as error:
        return Outcome(at=now, duration_ms=elapsed_ms(), error=f"{type(error).__name__}: {error}")
    outcome = Outcome(
        at=now,
        duration_ms=elapsed_ms(),
        status_code=response.status_code,
        headers=dict(response.headers.items()),
        # PostgreSQL's text holds no NUL character.
        body=received[:KEPT_RESPONSE_BYTES].decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
    )
    if response.is_redirect:
        outcome.error = f"redirect not followed: {response.status_code} to {response.headers.get('location', '?')}"
    elif not outcome.succeeded:
        outcome.error = f"HTTP {response.status_code}"
    return outcome


class _TooSlow(Exception):
    """The answer did not arrive whole within the timeout (a receiver trickling bytes)."""


def _read_capped(response: httpx.Response, deadline: float) -> bytes:
    """The body's first MAX_RESPONSE_BYTES; the rest is never read (closing drops the connection)."""
    received = bytearray()
    for chunk in response.iter_raw():
        received += chunk
        if len(received) >= MAX_RESPONSE_BYTES:
            break
        if time.monotonic() > deadline:
            raise _TooSlow
    return bytes(received[:MAX_RESPONSE_BYTES])


def outcome_fields(outcome: Outcome) -> dict[str, Any]:
    """The Delivery fields that record an attempt's outcome."""
    return {
        "last_status_code": outcome.status_code,
        "last_duration_ms": outcome.duration_ms,
        "last_error": outcome.error,
        "response_headers": outcome.headers,
        "response_body": outcome.body,
    }
