"""Turning committed events into notifications: the event table read past a cursor (tickets.event_cursor,
as the webhooks read it), each batch's notifications written in one statement, then pushed live.

Whom an event notifies is decided by PostgreSQL in that statement, not row by row in Python: the
ticket's watchers (tickets_watcher) plus a new assignee, less the event's actor and whoever is no
longer a member of the project. So a ticket with 1 000 watchers costs the same five statements as one
with a single watcher: cursor, events, tickets, notifications, cursor (bench/ W7 compares the rate
with a bare INSERT of the same rows). The watchers and memberships are those of when the worker reads
the event, normally within a second of its commit: someone removed meanwhile is not notified, and
someone who started watching meanwhile is.
"""

import logging
from collections import defaultdict
from functools import partial
from typing import Any

import orjson
from django.db import connection, transaction
from rest_framework import serializers

from hopla.channel_groups import groups_send, user_group
from notifications.models import NotifyCursor
from tickets.event_cursor import events_consume
from tickets.models import Event, EventType, Ticket
from tickets.services.event_publishing import event_payload
from tickets.services.watchers import watchers_forget_deleted_tickets

logger = logging.getLogger("hopla.notifications")

# Events per transaction, as the webhooks' dispatch: a backlog's first notifications wait for one batch.
NOTIFY_BATCH = 200

# The events of a watched ticket that notify its watchers (SPEC §11).
NOTIFYING_TYPES = frozenset(
    {
        EventType.TICKET_CREATED,
        EventType.TICKET_UPDATED,
        EventType.TICKET_DELETED,
        EventType.COMMENT_CREATED,
        EventType.COMMENT_UPDATED,
        EventType.COMMENT_DELETED,
        EventType.IMAGE_READY,
        EventType.IMAGE_FAILED,
    }
)
_TICKET_EVENTS = {EventType.TICKET_CREATED, EventType.TICKET_UPDATED, EventType.TICKET_DELETED}

# One row per (event, recipient) from one JSON parameter holding each event once. The reason is the
# strongest that holds: the ticket is assigned to them (or just was), they reported it, they watch it.
_INSERT_SQL = """
INSERT INTO notifications_notification (
    id, user_id, project_id, event_id, ticket, reason, read_at, created_at, emailed_at
)
SELECT
    gen_random_uuid(), recipient.user_id, event.project_id, event.id, event.ticket,
    CASE
        WHEN recipient.user_id = event.assignee_id OR recipient.user_id = event.assigned_id THEN 'assigned'
        WHEN recipient.user_id = event.reporter_id THEN 'reporter'
        ELSE 'watching'
    END,
    NULL, event.at, NULL
FROM jsonb_to_recordset(%(events)s::jsonb) AS event(
    id uuid, seq bigint, at timestamptz, project_id uuid, ticket_id uuid, actor_id uuid,
    assignee_id uuid, reporter_id uuid, assigned_id uuid, ticket jsonb
)
CROSS JOIN LATERAL (
    SELECT watcher.user_id FROM tickets_watcher AS watcher WHERE watcher.ticket_id = event.ticket_id
    UNION
    SELECT event.assigned_id WHERE event.assigned_id IS NOT NULL
) AS recipient
WHERE recipient.user_id IS DISTINCT FROM event.actor_id
    AND EXISTS (
        SELECT 1 FROM tickets_membership AS membership
        WHERE membership.project_id = event.project_id AND membership.user_id = recipient.user_id
    )
ORDER BY event.seq
ON CONFLICT DO NOTHING
RETURNING id, user_id, event_id, project_id, ticket, reason, created_at
"""


def notifications_make(*, limit: int = NOTIFY_BATCH) -> int:
    """Notifications for the next `limit` events past the cursor, pushed to their users' sockets once
    committed; answers how many events it read."""
    with events_consume(NotifyCursor, limit=limit) as events:
        if not events:
            return 0
        notifying = _notifying(events)
        created: list[tuple[Any, ...]] = []
        if notifying:
            with connection.cursor() as insert:
                insert.execute(_INSERT_SQL, {"events": orjson.dumps(notifying).decode()})
                created = insert.fetchall()
        # The deleted tickets' watchers have been told: they go now (tickets.models.Watcher).
        watchers_forget_deleted_tickets(ticket_ids=[event.ticket for event in events if event.type == "ticket.deleted"])
        if created:
            payloads = {event.pk: event_payload(event) for event in events}
            transaction.on_commit(partial(notifications_push, created, payloads))
    return len(events)


def _notifying(events: list[Event]) -> list[dict[str, Any]]:
    """Each event that may notify, with what the statement needs of its ticket: the ticket's events
    carry it; a comment's or an image's reads it (one query for the batch). An event whose ticket is
    gone by now notifies nobody: its deletion does."""
    candidates = [event for event in events if event.type in NOTIFYING_TYPES and event.ticket is not None]
    others = {event.ticket for event in candidates if event.type not in _TICKET_EVENTS and event.ticket is not None}
    tickets = {
        row["id"]: row
        for row in Ticket.objects.filter(pk__in=others).values("id", "key", "title", "assignee_id", "reporter_id")
    }
    rows = []
    for event in candidates:
        ticket: dict[str, Any]
        if event.type in _TICKET_EVENTS:
            data = event.data
            ticket = {
                "id": data.get("id"),
                "key": data.get("key"),
                "title": data.get("title"),
                "assignee_id": (data.get("assignee") or {}).get("id"),
                "reporter_id": (data.get("reporter") or {}).get("id"),
            }
        elif event.ticket in tickets:
            ticket = dict(tickets[event.ticket])
        else:
            continue
        rows.append(
            {
                "id": event.pk,
                "seq": event.seq,
                "at": event.at,
                "project_id": event.project_id,
                "ticket_id": event.ticket,
                "actor_id": event.actor_id,
                "assignee_id": ticket["assignee_id"],
                "reporter_id": ticket["reporter_id"],
                "assigned_id": _newly_assigned(event),
                "ticket": {"id": ticket["id"], "key": ticket["key"], "title": ticket["title"]},
            }
        )
    return rows


def _newly_assigned(event: Event) -> Any:
    """Who the event assigns the ticket to: notified (`assigned`) even if not watching (SPEC §11)."""
    if event.type == EventType.TICKET_UPDATED:
        return (event.changes.get("assignee") or [None, None])[1]
    if event.type == EventType.TICKET_CREATED:
        return (event.data.get("assignee") or {}).get("id")
    return None


# Renders `created_at` as the API does (NotificationSerializer's DateTimeField), without a serializer per row.
_DATETIME = serializers.DateTimeField()


def notification_payload(row: tuple[Any, ...], event: dict[str, Any]) -> dict[str, Any]:
    """A new notification as the API shows it (NotificationSerializer), from its RETURNING row and its
    event as the API shows it (rendered once per event, not per notification)."""
    notification_id, _user_id, _event_id, project_id, ticket, reason, created_at = row
    return {
        "id": str(notification_id),
        "reason": reason,
        "event": event,
        "ticket": orjson.loads(ticket) if isinstance(ticket, str | bytes) else ticket,
        "project": str(project_id),
        "read_at": None,
        "created_at": _DATETIME.to_representation(created_at),
    }


def notifications_push(created: list[tuple[Any, ...]], payloads: dict[Any, dict[str, Any]]) -> None:
    """After commit: the new notifications to their users' sockets, one channel-layer message per user
    with all of theirs (a batch of 200 events to 100 watchers is 100 messages, not 20 000), which each
    socket sends on one by one as `{"type": "notification", ...}` after re-checking the membership.
    Never raises: the rows are the truth, and the list shows them anyway."""
    by_user: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in created:
        by_user[row[1]].append(notification_payload(row, payloads[row[2]]))
    for user_id, notifications in by_user.items():
        try:
            groups_send([user_group(user_id)], {"type": "notifications.message", "notifications": notifications})
        except Exception:
            logger.exception("notifications push failed", extra={"fields": {"user": str(user_id)}})
