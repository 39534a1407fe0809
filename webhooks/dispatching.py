"""Turning committed events into deliveries: the event table read past a cursor, in `seq` order.

Events are numbered in commit order (tickets.services.event_writing: each writer holds the event
counter's row locked from taking its number until it commits), so once an event is visible every
event with a lower number is committed or gone: a cursor at the highest `seq` read never skips one
committed later. The cursor's row is locked while a batch is turned into deliveries and moved in the
same transaction, so two workers never dispatch the same events, and a crash between the two
writes is impossible: deliveries and cursor commit together. The unique (webhook, event) pair makes
a repeat harmless anyway.
"""

import logging
from collections import defaultdict
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from tickets.models import Event
from tickets.services.event_publishing import event_payload
from webhooks.delivering import drain_request, due_webhook_ids
from webhooks.models import Delivery, DispatchCursor, Webhook

logger = logging.getLogger("hopla.webhooks")

# Events per transaction: 200 events to 5 webhooks are 1 000 rows, written in ~0.2 s on this project's
# machines (bench/ W6), so a backlog's first deliveries wait for one batch rather than for all of them.
DISPATCH_BATCH = 200


def dispatch_cursor_ensure() -> None:
    """Create the cursor at the newest event if there is none: events before it had no webhook to
    go to (the cursor exists from the first webhook's creation on)."""
    newest = Event.objects.aggregate(newest=Max("seq"))["newest"] or 0
    DispatchCursor.objects.bulk_create([DispatchCursor(pk=1, last_seq=newest)], ignore_conflicts=True)


def events_dispatch(*, limit: int = DISPATCH_BATCH) -> int:
    """Deliveries for the next `limit` events past the cursor; answers how many events it read. Five
    queries whatever the number of events and webhooks: cursor, events, webhooks, deliveries, cursor."""
    now = timezone.now()
    with transaction.atomic():
        # SKIP LOCKED: another worker is dispatching; this one's turn comes at its next tick.
        cursor = DispatchCursor.objects.select_for_update(skip_locked=True).filter(pk=1).first()
        if cursor is None:
            dispatch_cursor_ensure()
            return 0
        events = list(Event.objects.filter(seq__gt=cursor.last_seq).select_related("actor").order_by("seq")[:limit])
        if not events:
            return 0
        webhooks = Webhook.objects.filter(project_id__in={event.project_id for event in events}, active=True)
        by_project: dict[Any, list[Webhook]] = defaultdict(list)
        for webhook in webhooks.only("id", "project_id", "events", "created_at"):
            by_project[webhook.project_id].append(webhook)
        deliveries = [
            Delivery(
                webhook_id=webhook.pk,
                event_id=event.pk,
                event_seq=event.seq,
                event_type=event.type,
                payload=payload,
                next_attempt_at=now,
            )
            for event in events
            for webhook, payload in _receivers(event, by_project.get(event.project_id, []))
        ]
        Delivery.objects.bulk_create(deliveries, ignore_conflicts=True)
        cursor.last_seq = events[-1].seq
        cursor.save(update_fields=["last_seq"])
    return len(events)


def _receivers(event: Event, webhooks: list[Webhook]) -> list[tuple[Webhook, dict[str, Any]]]:
    """The webhooks the event goes to (created before it, listening to its type or to "*"), with the
    event as the WebSocket sends it (made once for all of them)."""
    matching = [
        webhook
        for webhook in webhooks
        if webhook.created_at <= event.at and (event.type in webhook.events or "*" in webhook.events)
    ]
    if not matching:
        return []
    payload = event_payload(event)
    return [(webhook, payload) for webhook in matching]


def deliveries_start() -> int:
    """Ask for a drain of every active webhook with a delivery due; answers how many were asked."""
    webhook_ids = due_webhook_ids(timezone.now())
    for webhook_id in webhook_ids:
        drain_request(webhook_id)
    return len(webhook_ids)
