"""Draining one webhook's due deliveries: claimed in `seq` order under a lease, attempted, recorded.

One drain per webhook at a time: a claim locks the webhook's row and takes nothing while another
drain holds leases on that webhook's deliveries, so first attempts go out in `seq` order. A delivery
waiting for its retry does not hold back the later ones (their first attempts go out meanwhile);
receivers that need order use `seq` (SPEC §9).

A lease (`leased_until`) covers a claimed delivery while its attempt is in flight: a worker killed
mid-attempt leaves it claimable again once the lease has run out, so it is attempted again (at least
once; the receiver de-duplicates by `webhook-id`). Outcomes are written in batches, at most
RECORD_EVERY_SECONDS apart, each batch renewing the leases of the claimed deliveries still to go.
"""

import logging
import time
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Value
from django.utils import timezone

from webhooks.attempts import Outcome, attempt, outcome_fields, request_body, signers
from webhooks.models import Delivery, DeliveryStatus, Webhook

logger = logging.getLogger("hopla.webhooks")

CLAIM_SIZE = 100
# A drain job gives the worker back after this long, queueing itself again if more is due, so that
# one busy webhook does not starve the others on the same worker.
DRAIN_SECONDS = 2.0
RECORD_EVERY_SECONDS = 1.0
LEASE_MARGIN_SECONDS = 5.0

# The outcomes of a batch in one statement, from one JSON parameter: Django's bulk_update builds a
# CASE per field and row, and compiling it cost 6 ms a delivery (three times the attempt itself).
_RECORD_SQL = """
UPDATE webhooks_delivery AS delivery SET
    status = recorded.status, attempts = recorded.attempts, next_attempt_at = recorded.next_attempt_at,
    leased_until = NULL, delivered_at = recorded.delivered_at, request_body = recorded.request_body,
    last_status_code = recorded.last_status_code, last_duration_ms = recorded.last_duration_ms,
    last_error = recorded.last_error, response_headers = recorded.response_headers,
    response_body = recorded.response_body
FROM jsonb_to_recordset(%s::jsonb) AS recorded(
    id uuid, status varchar, attempts integer, next_attempt_at timestamptz, delivered_at timestamptz,
    request_body text, last_status_code integer, last_duration_ms integer, last_error text,
    response_headers jsonb, response_body text
)
WHERE delivery.id = recorded.id
"""


# RETURNING only what an attempt and its record read: _apply overwrites every other field, so the last
# attempt's request, response and error are neither sent back nor parsed (deferred, never loaded).
_CLAIM_SQL = """
UPDATE webhooks_delivery SET leased_until = %(until)s
WHERE id IN (
    SELECT id FROM webhooks_delivery
    WHERE webhook_id = %(webhook)s AND status = 'pending' AND next_attempt_at <= %(now)s
      AND NOT EXISTS (
        SELECT 1 FROM webhooks_delivery
        WHERE webhook_id = %(webhook)s AND status = 'pending' AND leased_until >= %(now)s
      )
    ORDER BY event_seq NULLS FIRST, created_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
RETURNING id, webhook_id, event_id, event_seq, event_type, payload, status, attempts, next_attempt_at,
    delivered_at, created_at
"""


def lease_seconds() -> float:
    """Long enough for one attempt and the wait for the next batch of records."""
    return settings.WEBHOOK_TIMEOUT_SECONDS + RECORD_EVERY_SECONDS + LEASE_MARGIN_SECONDS


def deliveries_claim(*, webhook_id: Any, limit: int = CLAIM_SIZE) -> tuple[Webhook, list[Delivery]] | None:
    """Lease the webhook's next due deliveries (pings first, then by `seq`), or None: the webhook is
    gone or inactive, another drain holds some, or none is due."""
    now = timezone.now()
    with transaction.atomic():
        # Claims of one webhook take turns on its row; the claim below then sees the other's leases.
        webhook = Webhook.objects.select_for_update().filter(pk=webhook_id, active=True).first()
        if webhook is None:
            return None
        until = now + timedelta(seconds=lease_seconds())
        params = {"until": until, "webhook": webhook.pk, "now": now, "limit": limit}
        claimed = list(Delivery.objects.raw(_CLAIM_SQL, params))
    if not claimed:
        return None
    claimed.sort(key=lambda delivery: (delivery.event_seq is not None, delivery.event_seq or 0, delivery.created_at))
    return webhook, claimed


def deliveries_drain(*, webhook_id: Any) -> bool:
    """Attempt the webhook's due deliveries for up to DRAIN_SECONDS; answers whether some may be left."""
    started = time.monotonic()
    while time.monotonic() - started < DRAIN_SECONDS:
        claim = deliveries_claim(webhook_id=webhook_id)
        if claim is None:
            return False
        webhook, deliveries = claim
        if not _attempt_in_order(webhook, deliveries):
            return False
    return True


def _attempt_in_order(webhook: Webhook, deliveries: list[Delivery]) -> bool:
    """Attempt the claimed deliveries one after another; answers False once the webhook is inactive
    (auto-disabled by these failures, or by an admin meanwhile): the rest are left for later."""
    records = _Records(webhook, deliveries)
    signed_by = signers(webhook, timezone.now())
    for delivery in deliveries:
        body = request_body(delivery)
        records.add(delivery, body, attempt(webhook, delivery, body, signed_by))
        if records.due() and not records.write():
            return False
    return records.write()


def _apply(delivery: Delivery, body: bytes, outcome: Outcome) -> None:
    schedule: list[int] = settings.WEBHOOK_RETRY_SCHEDULE
    delivery.attempts += 1
    delivery.leased_until = None
    delivery.request_body = body.decode()
    for name, value in outcome_fields(outcome).items():
        setattr(delivery, name, value)
    if outcome.succeeded:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = DeliveryStatus.SUCCEEDED, outcome.at, None
    elif delivery.attempts <= len(schedule):
        delivery.next_attempt_at = outcome.at + timedelta(seconds=schedule[delivery.attempts - 1])
    else:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None


def _recorded(delivery: Delivery) -> dict[str, Any]:
    # orjson writes UUIDs and aware datetimes as PostgreSQL reads them (RFC 3339).
    return {
        "id": delivery.pk,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at,
        "delivered_at": delivery.delivered_at,
        "request_body": delivery.request_body,
        "last_status_code": delivery.last_status_code,
        "last_duration_ms": delivery.last_duration_ms,
        "last_error": delivery.last_error,
        "response_headers": delivery.response_headers,
        "response_body": delivery.response_body,
    }


class _Records:
    """Outcomes not yet written, and the claimed deliveries not yet attempted."""

    def __init__(self, webhook: Webhook, claimed: list[Delivery]) -> None:
        self.webhook = webhook
        self.waiting = {delivery.pk for delivery in claimed}
        self.done: list[tuple[Delivery, Outcome]] = []
        self.written_at = time.monotonic()

    def add(self, delivery: Delivery, body: bytes, outcome: Outcome) -> None:
        _apply(delivery, body, outcome)
        self.waiting.discard(delivery.pk)
        self.done.append((delivery, outcome))

    def due(self) -> bool:
        return time.monotonic() - self.written_at >= RECORD_EVERY_SECONDS

    def write(self) -> bool:
        """Write the outcomes, renew the leases of the rest (or free them once the webhook is off);
        answers whether the webhook is still active."""
        self.written_at = time.monotonic()
        done, self.done = self.done, []
        with transaction.atomic():
            if done:
                with connection.cursor() as cursor:
                    cursor.execute(_RECORD_SQL, [orjson.dumps([_recorded(delivery) for delivery, _ in done]).decode()])
                _webhook_record(self.webhook, done)
            active = Webhook.objects.filter(pk=self.webhook.pk, active=True).exists()
            if self.waiting:
                until = timezone.now() + timedelta(seconds=lease_seconds()) if active else None
                Delivery.objects.filter(pk__in=self.waiting).update(leased_until=until)
        return active


def _webhook_record(webhook: Webhook, done: list[tuple[Delivery, Outcome]]) -> None:
    """The webhook's health after these outcomes: its last success and failure, the deliveries failed
    in a row (a success resets it), and the switch-off at WEBHOOK_DISABLE_AFTER_FAILURES."""
    changes: dict[str, object] = {}
    failed_at = [outcome.at for _, outcome in done if not outcome.succeeded]
    if failed_at:
        changes["last_failure_at"] = max(failed_at)
    finished = [(delivery, outcome) for delivery, outcome in done if delivery.status != DeliveryStatus.PENDING]
    succeeded = [index for index, (delivery, _) in enumerate(finished) if delivery.status == DeliveryStatus.SUCCEEDED]
    failed_since_success = finished[succeeded[-1] + 1 :] if succeeded else finished
    if succeeded:
        changes["last_success_at"] = finished[succeeded[-1]][1].at
        changes["consecutive_failures"] = Value(len(failed_since_success))
    elif failed_since_success:
        changes["consecutive_failures"] = F("consecutive_failures") + len(failed_since_success)
    if not changes:
        return
    Webhook.objects.filter(pk=webhook.pk).update(**changes)
    if not failed_since_success:
        return  # no failed delivery since the last success: the count cannot have reached the limit
    limit = settings.WEBHOOK_DISABLE_AFTER_FAILURES
    last_error = failed_since_success[-1][1].error
    disabled = Webhook.objects.filter(pk=webhook.pk, active=True, consecutive_failures__gte=limit).update(
        active=False,
        disabled_reason=f"{limit} deliveries in a row failed; the last: {last_error}"[:500],
        updated_at=timezone.now(),
    )
    if disabled:
        logger.warning("webhook disabled", extra={"fields": {"webhook": str(webhook.pk), "failures": limit}})


def due_webhook_ids(now: datetime) -> list[Any]:
    """Active webhooks with a delivery due and not leased: one query on the pending deliveries."""
    due = Delivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=now, webhook__active=True
    ).exclude(leased_until__gte=now)
    return list(due.order_by().values_list("webhook_id", flat=True).distinct())
