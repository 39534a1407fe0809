"""Claiming a key before its request runs, recording the answer after, and purging expired keys.

A claim is one statement, `INSERT ... ON CONFLICT DO UPDATE ... WHERE <the old row is dead>`, committed
at once (outside the request's own transactions): of two requests with one key, PostgreSQL's unique
index lets exactly one insert, the other learns the key is taken and reads the row. A row is dead, and
claimed again, when it has expired (the purge has not run yet) or when it was left in progress longer
than `IDEMPOTENCY_LOCK_SECONDS` (its request's process died before recording an answer).
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Subquery
from django.utils import timezone

from hopla.idempotency.models import IdempotencyKey, KeyStatus
from hopla.sql import db_uuid

# The response headers a replay repeats: what a client reads besides the body.
KEPT_HEADERS = ("Content-Type", "ETag", "Location")
PURGE_BATCH_SIZE = 5000


@dataclass(frozen=True)
class Claim:
    """This request holds the key: it runs, then records its answer (or releases the key on a 5xx)."""

    id: uuid.UUID


@dataclass(frozen=True)
class KeptRequest:
    """Another request holds the key: the one it was first sent with, and its answer if it has one."""

    fingerprint: str
    status: str
    response_status: int | None
    response_headers: dict[str, str]
    response_body: bytes | None


def _claim_sql() -> str:
    table = connection.ops.quote_name(IdempotencyKey._meta.db_table)
    return (
        f"INSERT INTO {table} (id, user_id, key, fingerprint, status, response_headers, created_at, expires_at)"
        " VALUES (%s, %s, %s, %s, %s, '{}', %s, %s)"
        " ON CONFLICT (user_id, key) DO UPDATE SET id = EXCLUDED.id, fingerprint = EXCLUDED.fingerprint,"
        " status = EXCLUDED.status, response_status = NULL, response_headers = EXCLUDED.response_headers,"
        " response_body = NULL, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at"
        f" WHERE {table}.expires_at <= EXCLUDED.created_at"
        f" OR ({table}.status = %s AND {table}.created_at <= %s)"
        " RETURNING id"
    )


def idempotency_claim(*, user_id: uuid.UUID, key: str, fingerprint: str) -> Claim | KeptRequest:
    """Claim `key` for a request of `user_id`, or answer the request that holds it.

    One statement when the key is new (the common case); a second reads the holder otherwise.
    """
    now = timezone.now()
    claim_id = uuid.uuid4()
    stale_before = now - timedelta(seconds=settings.IDEMPOTENCY_LOCK_SECONDS)
    for _ in range(2):  # the holder may release the key (a 5xx) between our claim and our read
        with connection.cursor() as cursor:
            cursor.execute(
                _claim_sql(),
                [
                    db_uuid(claim_id),
                    db_uuid(user_id),
                    key,
                    fingerprint,
                    KeyStatus.IN_PROGRESS,
                    now,
                    now + timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS),
                    KeyStatus.IN_PROGRESS,
                    stale_before,
                ],
            )
            if cursor.fetchone() is not None:
                return Claim(id=claim_id)
        held = (
            IdempotencyKey.objects.filter(user_id=user_id, key=key)
            .values_list("fingerprint", "status", "response_status", "response_headers", "response_body")
            .first()
        )
        if held is not None:
            fingerprint_held, status, response_status, headers, body = held
            return KeptRequest(
                fingerprint=fingerprint_held,
                status=status,
                response_status=response_status,
                response_headers=headers,
                response_body=None if body is None else bytes(body),
            )
    # Claimed and released twice in a row by other requests: as busy as a key gets.
    return KeptRequest(
        fingerprint=fingerprint,
        status=KeyStatus.IN_PROGRESS,
        response_status=None,
        response_headers={},
        response_body=None,
    )


def idempotency_record(*, claim: Claim, status: int, headers: dict[str, str], body: bytes) -> None:
    """Keep the answer of the claiming request, for replays until the key expires."""
    IdempotencyKey.objects.filter(id=claim.id).update(
        status=KeyStatus.COMPLETED, response_status=status, response_headers=headers, response_body=body
    )


def idempotency_release(*, claim: Claim) -> None:
    """Forget a claim whose request failed on the server (5xx): a retry with the key runs again."""
    IdempotencyKey.objects.filter(id=claim.id).delete()


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
