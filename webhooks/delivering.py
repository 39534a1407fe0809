"""Draining one webhook's due deliveries: read in `seq` order under the webhook's drain lease,
attempted, recorded.

One drain per webhook at a time: a drain takes the webhook's lease (`drain_token`,
`drain_leased_until` on its row) and another drain takes nothing until it is released or has run
out, so first attempts go out in `seq` order. A delivery waiting for its retry does not hold back
the later ones (their first attempts go out meanwhile); receivers that need order use `seq` (SPEC §9).

The lease, rather than one per delivery, is what a claim costs: each delivery row is written once
per attempt (its outcome), not also when taken, and it is read with a plain SELECT. A worker killed
mid-attempt leaves the lease to run out, and the next drain reads the delivery again (at least once;
the receiver de-duplicates by `webhook-id`). Outcomes are written in batches, at most
RECORD_EVERY_SECONDS apart, each batch renewing the lease (or stopping the drain once the webhook is
off, or the lease was lost to another drain after running out).

The drain's thread does the database work; the requests go out on the process's sender
(webhooks.sender), a batch's deliveries handed over together and sent in order, while the drain waits.
"""

import logging
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet, Value
from django.utils import timezone

from webhooks.attempts import Outcome, outcome_fields, signers
from webhooks.models import Delivery, DeliveryStatus, Webhook, webhook_row_lock_take
from webhooks.sender import sender

logger = logging.getLogger("hopla.webhooks")

# Due deliveries a drain reads at once. Reading them costs a statement compiled by the ORM and a model a
# row: 500 rather than 100 took that statement's share of the worker's CPU a delivery down (BENCHMARKS.md,
# "W6: one event loop sends"); a drain still stops after DRAIN_SECONDS, whatever is left of its batch.
BATCH_SIZE = 500
# A drain job gives the worker back after this long (and the attempt under way), queueing itself again if
# more is due, so that one busy webhook does not starve the others on the same worker.
DRAIN_SECONDS = 2.0
RECORD_EVERY_SECONDS = 1.0
LEASE_MARGIN_SECONDS = 5.0

# The outcomes of a batch in one statement, from one JSON parameter: Django's bulk_update builds a
# CASE per field and row, and compiling it cost 6 ms a delivery (three times the attempt itself).
_RECORD_SQL = """
UPDATE webhooks_delivery AS delivery SET
    status = recorded.status, attempts = recorded.attempts, next_attempt_at = recorded.next_attempt_at,
    delivered_at = recorded.delivered_at, request_body = recorded.request_body,
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


# What an attempt and its record read: _apply overwrites every other field, so the last attempt's
# request, response and error are neither read nor parsed (deferred, never loaded).
_DUE_FIELDS = (
    "id", "webhook_id", "event_id", "event_seq", "event_type", "payload", "status", "attempts",
    "next_attempt_at", "delivered_at", "created_at",
)  # fmt: skip


def lease_seconds() -> float:
    """Long enough for one attempt and the wait for the next batch of records."""
    return settings.WEBHOOK_TIMEOUT_SECONDS + RECORD_EVERY_SECONDS + LEASE_MARGIN_SECONDS


class DrainLease:
    """The webhook's drain lease, held by one drain: taken, renewed with each batch of records, released."""

    def __init__(self, webhook: Webhook, token: uuid.UUID) -> None:
        self.webhook = webhook
        self.token = token

    @classmethod
    def take(cls, webhook_id: Any) -> "DrainLease | None":
        """The lease of an active webhook, or None: the webhook is gone or off, or another drain holds it."""
        now, token = timezone.now(), uuid.uuid4()
        free = Q(drain_leased_until__isnull=True) | Q(drain_leased_until__lt=now)
        taken = Webhook.objects.filter(free, pk=webhook_id, active=True).update(
            drain_token=token, drain_leased_until=now + timedelta(seconds=lease_seconds())
        )
        if not taken:
            return None
        webhook = Webhook.objects.filter(pk=webhook_id, drain_token=token).first()
        return cls(webhook, token) if webhook is not None else None

    def _held(self) -> "QuerySet[Webhook]":
        return Webhook.objects.filter(pk=self.webhook.pk, drain_token=self.token)

    def renew(self) -> bool:
        """Answers whether the drain goes on: the webhook is still active and the lease still this one's."""
        until = timezone.now() + timedelta(seconds=lease_seconds())
        return bool(self._held().filter(active=True).update(drain_leased_until=until))

    def release(self) -> None:
        self._held().update(drain_token=None, drain_leased_until=None)


def deliveries_due(webhook: Webhook, *, limit: int = BATCH_SIZE) -> list[Delivery]:
    """The webhook's next due deliveries: pings first, then by `seq` (for the holder of its lease)."""
    due = Delivery.objects.filter(
        webhook_id=webhook.pk, status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now()
    ).only(*_DUE_FIELDS)
    # Pings and events apart, each in the order of the pending deliveries' index (webhook, seq,
    # created_at), then the two put together: one ORDER BY seq NULLS FIRST over the webhook's pending
    # deliveries cannot read that index (its nulls come last), so PostgreSQL sorted every pending
    # delivery of the webhook for each batch (2.8 ms for 1 000 in W6; a backlog of 100 000 after a
    # receiver's hour away would have been sorted again for every 100 sent).
    pings = due.filter(event_seq__isnull=True).order_by("created_at")[:limit]
    events = due.filter(event_seq__isnull=False).order_by("event_seq", "created_at")[:limit]
    ordered = pings.union(events, all=True).order_by(F("event_seq").asc(nulls_first=True), "created_at")
    return list(ordered[:limit])


def deliveries_drain(*, webhook_id: Any) -> bool:
    """Attempt the webhook's due deliveries for up to DRAIN_SECONDS (and the attempt under way then);
    answers whether some may be left."""
    lease = DrainLease.take(webhook_id)
    if lease is None:
        return False
    try:
        deadline = time.monotonic() + DRAIN_SECONDS
        while time.monotonic() < deadline:
            deliveries = deliveries_due(lease.webhook)
            if not deliveries or not _attempt_in_order(lease, deliveries, deadline):
                return False
        return True
    finally:
        lease.release()


def _attempt_in_order(lease: DrainLease, deliveries: list[Delivery], deadline: float) -> bool:
    """Attempt the deliveries one after another (on the sender's event loop, a chunk at a time), their
    outcomes written after each chunk, until all are attempted or the drain's `deadline` (time.monotonic())
    has passed; answers False once the webhook is inactive (auto-disabled by these failures, or by an admin
    meanwhile) or the lease is lost. The rest are left for later."""
    webhook = lease.webhook
    records = _Records(lease)
    signed_by = signers(webhook, timezone.now())
    left = deliveries
    while left:
        for_seconds = min(RECORD_EVERY_SECONDS, max(0.0, deadline - time.monotonic()))
        attempted = sender().attempts(webhook.url, left, signed_by, for_seconds=for_seconds)
        for each in attempted:
            records.add(each.delivery, each.body, each.outcome)
        left = left[len(attempted) :]
        if not records.write():
            return False
        if time.monotonic() >= deadline:
            break
    return True


def _apply(delivery: Delivery, body: bytes, outcome: Outcome) -> None:
    schedule: list[int] = settings.WEBHOOK_RETRY_SCHEDULE
    delivery.attempts += 1
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
    """Outcomes not yet written."""

    def __init__(self, lease: DrainLease) -> None:
        self.lease = lease
        self.done: list[tuple[Delivery, Outcome]] = []

    def add(self, delivery: Delivery, body: bytes, outcome: Outcome) -> None:
        _apply(delivery, body, outcome)
        self.done.append((delivery, outcome))

    def write(self) -> bool:
        """Renew the lease and write the outcomes; answers whether the drain goes on.

        The webhook's row is locked before its deliveries' rows, in the order a delete of the webhook
        takes them (webhooks.signals, then the cascade): the other order deadlocked with a delete made
        while the drain recorded (PostgreSQL then aborted one of the two, seen with W6's clean-up)."""
        done, self.done = self.done, []
        with transaction.atomic():
            going_on = self.lease.renew()  # locks the row while the webhook is active and the lease held
            if not going_on:
                webhook_row_lock_take(self.lease.webhook)
            if done:
                with connection.cursor() as cursor:
                    cursor.execute(_RECORD_SQL, [orjson.dumps([_recorded(delivery) for delivery, _ in done]).decode()])
                if _webhook_record(self.lease.webhook, done):
                    going_on = False  # these outcomes switched it off
            return going_on


def _webhook_record(webhook: Webhook, done: list[tuple[Delivery, Outcome]]) -> bool:
    """The webhook's health after these outcomes: its last success and failure, the deliveries failed
    in a row (a success resets it), and the switch-off at WEBHOOK_DISABLE_AFTER_FAILURES (answers
    whether these outcomes switched it off)."""
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
        return False
    Webhook.objects.filter(pk=webhook.pk).update(**changes)
    if not failed_since_success:
        return False  # no failed delivery since the last success: the count cannot have reached the limit
    limit = settings.WEBHOOK_DISABLE_AFTER_FAILURES
    last_error = failed_since_success[-1][1].error
    disabled = Webhook.objects.filter(pk=webhook.pk, active=True, consecutive_failures__gte=limit).update(
        active=False,
        disabled_reason=f"{limit} deliveries in a row failed; the last: {last_error}"[:500],
        updated_at=timezone.now(),
    )
    if disabled:
        logger.warning("webhook disabled", extra={"fields": {"webhook": str(webhook.pk), "failures": limit}})
    return bool(disabled)


def due_webhook_ids(now: datetime) -> list[Any]:
    """Active webhooks with a delivery due and no drain holding them: one query on the pending deliveries."""
    free = Q(webhook__drain_leased_until__isnull=True) | Q(webhook__drain_leased_until__lt=now)
    due = Delivery.objects.filter(free, status=DeliveryStatus.PENDING, next_attempt_at__lte=now, webhook__active=True)
    return list(due.order_by().values_list("webhook_id", flat=True).distinct())
