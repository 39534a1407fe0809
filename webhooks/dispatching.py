"""Turning committed events into deliveries: the event table read past a cursor, in `seq` order.

The cursor (tickets.event_cursor, shared with the notifications) is locked while a batch is turned
into deliveries and moved in the same transaction: deliveries and cursor commit together, and two
workers never dispatch the same events. The unique (webhook, event) pair makes a repeat harmless anyway.
"""

import logging
from collections import defaultdict
from typing import Any

import orjson
from django.db import connection
from django.utils import timezone

from tickets.event_cursor import event_cursor_ensure, events_consume
from tickets.models import Event
from tickets.services.event_publishing import event_payload
from webhooks.delivering import due_webhook_ids
from webhooks.drain_jobs import drains_request
from webhooks.models import DispatchCursor, Webhook

logger = logging.getLogger("hopla.webhooks")

# Events per transaction: 200 events to 5 webhooks are 1 000 rows, written in ~0.2 s on this project's
# machines (bench/ W6), so a backlog's first deliveries wait for one batch rather than for all of them.
DISPATCH_BATCH = 200

# A batch's deliveries in one statement from one JSON parameter, each event's payload in it once for
# all its webhooks: Django's bulk_create built, adapted and sent a row (payload included) per delivery,
# most of a dispatch's time in the worker (bench/ W6). The defaults are the model's (webhooks.models).
_INSERT_SQL = """
INSERT INTO webhooks_delivery (
    id, webhook_id, event_id, event_seq, event_type, payload, status, attempts, next_attempt_at,
    last_error, request_body, response_headers, response_body, created_at
)
SELECT
    gen_random_uuid(), receiver.webhook_id::uuid, event.id, event.seq, event.type, event.payload, 'pending', 0,
    %(now)s, '', '', '{}'::jsonb, '', %(now)s
FROM jsonb_to_recordset(%(deliveries)s::jsonb)
    AS event(id uuid, seq bigint, type varchar, payload jsonb, webhooks jsonb)
CROSS JOIN LATERAL jsonb_array_elements_text(event.webhooks) AS receiver(webhook_id)
ORDER BY event.seq
ON CONFLICT DO NOTHING
"""


def dispatch_cursor_ensure() -> None:
    """Create the cursor at the newest event if there is none: events before it had no webhook to
    go to (the cursor exists from the first webhook's creation on)."""
    event_cursor_ensure(DispatchCursor)


def events_dispatch(*, limit: int = DISPATCH_BATCH) -> int:
    """Deliveries for the next `limit` events past the cursor; answers how many events it read. Five
    queries whatever the number of events and webhooks: cursor, events, webhooks, deliveries, cursor."""
    now = timezone.now()
    with events_consume(DispatchCursor, limit=limit) as events:
        if not events:
            return 0
        webhooks = Webhook.objects.filter(project_id__in={event.project_id for event in events}, active=True)
        by_project: dict[Any, list[Webhook]] = defaultdict(list)
        for webhook in webhooks.only("id", "project_id", "events", "created_at"):
            by_project[webhook.project_id].append(webhook)
        receiving = []
        for event in events:
            payload, webhook_ids = _receivers(event, by_project.get(event.project_id, []))
            if webhook_ids:
                receiving.append(
                    {"id": event.pk, "seq": event.seq, "type": event.type, "payload": payload, "webhooks": webhook_ids}
                )
        if receiving:
            with connection.cursor() as insert:
                insert.execute(_INSERT_SQL, {"deliveries": orjson.dumps(receiving).decode(), "now": now})
    return len(events)


def _receivers(event: Event, webhooks: list[Webhook]) -> tuple[dict[str, Any] | None, list[Any]]:
    """The event as the WebSocket sends it, and the ids of the webhooks it goes to (created before
    it, listening to its type or to "*"); no payload is made for an event that goes nowhere."""
    matching = [
        webhook.pk
        for webhook in webhooks
        if webhook.created_at <= event.at and (event.type in webhook.events or "*" in webhook.events)
    ]
    return (event_payload(event) if matching else None), matching


def deliveries_start() -> int:
    """Ask for a drain of every active webhook with a delivery due; answers how many were asked."""
    webhook_ids = due_webhook_ids(timezone.now())
    drains_request(webhook_ids)
    return len(webhook_ids)
