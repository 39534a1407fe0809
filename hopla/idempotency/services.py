"""Claiming a key before its request runs, recording the answer with the request's own writes, and
purging expired keys.

A keyed POST costs one statement and no commit of its own (BENCHMARKS.md, "W9 again"):

- **The claim** is a guard in the cache (Redis), `cache.add` of the user's key: atomic (SET NX), no
  SQL. Of two requests with one key, one adds it and runs; the other finds it and reads the kept row:
  it answers from the row, or 409 while there is none and the guard is younger than
  `IDEMPOTENCY_LOCK_SECONDS` (its request is still running). The guard lives as long as the key, so
  that repeats go straight to the kept row; it says when it was taken.
- **The record** is one `INSERT ... ON CONFLICT DO UPDATE ... WHERE <the old row is dead> RETURNING`
  in the request's own transaction (the view runs in one, see `hopla.idempotency.api`), committed with
  its writes. PostgreSQL's unique (user, key) index is what guarantees that one request per key
  commits: if the cache lost the guard (Redis restarted, or away: requests then run unguarded), a
  second run finds the first's row at its INSERT, rolls back everything it wrote and answers the kept
  row instead.

A row is dead, and claimed again, when it has expired (the purge has not run yet) or when it was left
in progress longer than `IDEMPOTENCY_LOCK_SECONDS` (rows of the earlier insert-first claim, still
honoured). A request whose process dies leaves its guard and no row: repeats are 409 until the guard is
`IDEMPOTENCY_LOCK_SECONDS` old, then the next one runs.
"""

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Subquery
from django.utils import timezone

from hopla.idempotency.models import IdempotencyKey, KeyStatus
from hopla.sql import db_uuid

logger = logging.getLogger("hopla.idempotency")

# The response headers a replay repeats: what a client reads besides the body.
KEPT_HEADERS = ("Content-Type", "ETag", "Location")
PURGE_BATCH_SIZE = 5000


@dataclass(frozen=True)
class Claim:
    """This request holds the key: it runs, then records its answer (or releases the key on a 5xx)."""

    id: uuid.UUID
    user_id: uuid.UUID
    key: str
    fingerprint: str


@dataclass(frozen=True)
class KeptRequest:
    """Another request holds the key: the one it was first sent with, and its answer if it has one."""

    fingerprint: str
    status: str
    response_status: int | None
    response_headers: dict[str, str]
    response_body: bytes | None


def guard_key(user_id: uuid.UUID, key: str) -> str:
    """The cache key of a user's Idempotency-Key (hashed: a key may be 255 characters of any ASCII)."""
    return f"idempotency:{user_id}:{hashlib.sha256(key.encode()).hexdigest()}"


def _guard_value(claim_id: uuid.UUID, now: datetime) -> str:
    return f"{claim_id} {now.timestamp()}"


def guard_taken_at(value: object) -> datetime | None:
    """When the guard `value` was taken (None when it is not a guard's value)."""
    try:
        return datetime.fromtimestamp(float(str(value).split()[1]), tz=UTC)
    except (IndexError, ValueError):
        return None


def _key_seconds() -> float:
    return settings.IDEMPOTENCY_TTL_HOURS * 3600


def _guard_add(guard: str, value: str) -> bool:
    """Whether this request took the guard; True when the cache is away (the INSERT decides alone)."""
    try:
        return bool(cache.add(guard, value, timeout=_key_seconds()))
    except Exception:
        logger.warning("idempotency guard unavailable, the key's row alone decides", exc_info=True)
        return True


def _guard_get(guard: str) -> object:
    try:
        return cache.get(guard)
    except Exception:
        return None


def _guard_set(guard: str, value: str) -> None:
    try:
        cache.set(guard, value, timeout=_key_seconds())
    except Exception:
        logger.warning("idempotency guard not taken over", exc_info=True)


def _kept(user_id: uuid.UUID, key: str) -> tuple[KeptRequest, datetime, datetime] | None:
    """The row kept for the key, with its created_at and expires_at."""
    held = (
        IdempotencyKey.objects.filter(user_id=user_id, key=key)
        .values_list(
            "fingerprint", "status", "response_status", "response_headers", "response_body", "created_at", "expires_at"
        )
        .first()
    )
    if held is None:
        return None
    fingerprint, status, response_status, headers, body, created_at, expires_at = held
    kept = KeptRequest(
        fingerprint=fingerprint,
        status=status,
        response_status=response_status,
        response_headers=headers,
        response_body=None if body is None else bytes(body),
    )
    return kept, created_at, expires_at


def _in_progress(fingerprint: str) -> KeptRequest:
    return KeptRequest(
        fingerprint=fingerprint,
        status=KeyStatus.IN_PROGRESS,
        response_status=None,
        response_headers={},
        response_body=None,
    )


def idempotency_claim(*, user_id: uuid.UUID, key: str, fingerprint: str) -> Claim | KeptRequest:
    """Claim `key` for a request of `user_id`, or answer the request that holds it.

    No statement when the key is new (the common case); one read of the kept row otherwise.
    """
    claim = Claim(id=uuid.uuid4(), user_id=user_id, key=key, fingerprint=fingerprint)
    guard = guard_key(user_id, key)
    now = timezone.now()
    if _guard_add(guard, _guard_value(claim.id, now)):
        return claim
    stale_before = now - timedelta(seconds=settings.IDEMPOTENCY_LOCK_SECONDS)
    found = _kept(user_id, key)
    if found is not None:
        kept, created_at, expires_at = found
        if expires_at > now and (kept.status == KeyStatus.COMPLETED or created_at > stale_before):
            return kept
    else:
        taken_at = guard_taken_at(_guard_get(guard))
        if taken_at is not None and taken_at > stale_before:
            return _in_progress(fingerprint)  # its first request is still running
    # The row expired, was purged or was left in progress long ago, or the guard's request died: run.
    _guard_set(guard, _guard_value(claim.id, now))
    return claim


def _record_sql() -> str:
    table = connection.ops.quote_name(IdempotencyKey._meta.db_table)
    return (
        f"INSERT INTO {table} (id, user_id, key, fingerprint, status, response_status, response_headers,"
        " response_body, created_at, expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (user_id, key) DO UPDATE SET id = EXCLUDED.id, fingerprint = EXCLUDED.fingerprint,"
        " status = EXCLUDED.status, response_status = EXCLUDED.response_status,"
        " response_headers = EXCLUDED.response_headers, response_body = EXCLUDED.response_body,"
        " created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at"
        f" WHERE {table}.expires_at <= EXCLUDED.created_at"
        f" OR ({table}.status = %s AND {table}.created_at <= %s)"
        " RETURNING id"
    )


def idempotency_record(*, claim: Claim, status: int, headers: dict[str, str], body: bytes) -> KeptRequest | None:
    """Keep the answer of the claiming request in its transaction, for replays until the key expires.

    Answers None when kept; or, when another request with the key committed first (the guard was
    lost), that request's kept row: the caller then rolls its own transaction back and answers it.
    """
    now = timezone.now()
    expires_at = now + timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)
    field = IdempotencyKey._meta.get_field("response_headers")
    with connection.cursor() as cursor:
        cursor.execute(
            _record_sql(),
            [
                db_uuid(claim.id),
                db_uuid(claim.user_id),
                claim.key,
                claim.fingerprint,
                KeyStatus.COMPLETED,
                status,
                field.get_db_prep_value(headers, connection),
                body,
                now,
                expires_at,
                KeyStatus.IN_PROGRESS,
                now - timedelta(seconds=settings.IDEMPOTENCY_LOCK_SECONDS),
            ],
        )
        if cursor.fetchone() is not None:
            return None
    found = _kept(claim.user_id, claim.key)
    return _in_progress(claim.fingerprint) if found is None else found[0]


def idempotency_release(*, claim: Claim) -> None:
    """Forget a claim whose request failed on the server (5xx) or streamed: a retry with the key runs
    again. Only this claim's guard: a later claimer's stays."""
    guard = guard_key(claim.user_id, claim.key)
    try:
        if str(cache.get(guard)).split()[0] == str(claim.id):
            cache.delete(guard)
    except Exception:
        logger.warning("idempotency guard not released (it expires by itself)", exc_info=True)


def idempotency_keys_purge_expired(*, now: datetime | None = None) -> int:
    """Delete expired keys in batches (short statements beside live traffic); answers how many."""
    now = now or timezone.now()
    purged = 0
    while True:
        batch = IdempotencyKey.objects.filter(expires_at__lte=now).values("id")[:PURGE_BATCH_SIZE]
        deleted, _ = IdempotencyKey.objects.filter(id__in=Subquery(batch)).delete()
        purged += deleted
        if deleted < PURGE_BATCH_SIZE:
            return purged
