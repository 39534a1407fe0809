"""The one place events are written, and published to dashboards once their transaction commits."""

import asyncio
import json
import logging
from datetime import timedelta
from functools import partial
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, get_channel_layer
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from rest_framework.utils.encoders import JSONEncoder

from accounts.models import User
from tickets.models import Event, EventType
from tickets.serializers import EventSerializer

logger = logging.getLogger("hopla.events")

# Any constant works; it names the PostgreSQL advisory lock that orders event numbering.
_EVENT_SEQUENCE_LOCK = 0x686F706C61


def project_group(project_id: Any) -> str:
    """The channel-layer group that receives every event of one project."""
    return f"project.{project_id}"


def user_group(user_id: Any) -> str:
    """The channel-layer group of one user's connections: told when the user joins or leaves a project."""
    return f"user.{user_id}"


# A user who joins a project is not yet in its group, so these events also go to the user's own group.
_MEMBERSHIP_CHANGES = {EventType.MEMBER_ADDED, EventType.MEMBER_REMOVED}
# A stalled Redis must not hold the request that made the change for long.
_PUBLISH_TIMEOUT_SECONDS = 2.0


def event_sequence_lock_and_last() -> int:
    """Take the lock that orders event numbering until the transaction ends; answer the last `seq`.

    Whoever numbers events (event_record, seed_demo's bulk load) holds it, so numbers are handed out
    in commit order. SQLite needs no lock: it runs one write transaction at a time.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_EVENT_SEQUENCE_LOCK])
    return Event.objects.aggregate(last=Max("seq"))["last"] or 0


def event_record(
    *,
    type: EventType,
    project_id: Any,
    actor: User | None,
    data: dict[str, Any],
    ticket_id: Any = None,
    changes: dict[str, list[Any]] | None = None,
) -> Event:
    """Write an event in the caller's transaction and publish it after commit.

    `seq` is taken under a transaction-scoped lock, so numbers are handed out in commit order: a
    client that has seen event n and asks for `seq > n` can never miss one committed later.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("event_record must run inside the transaction of the change it records")
    seq = event_sequence_lock_and_last() + 1
    event = Event.objects.create(
        seq=seq,
        type=type,
        project_id=project_id,
        ticket=ticket_id,
        actor=actor,
        changes=changes or {},
        data=data,
    )
    transaction.on_commit(partial(event_publish, event))
    return event


def event_payload(event: Event) -> dict[str, Any]:
    """The event as the API and the WebSocket show it, as plain JSON types (the layer uses msgpack)."""
    return json.loads(json.dumps(EventSerializer(event).data, cls=JSONEncoder))


def event_publish(event: Event) -> bool:
    """Push a committed event to its project's group and mark it published. Never raises: the row is
    the truth; an event the layer did not take is pushed again by `events_republish` (the worker's
    sweep), and a client that was away gets it back with `resume`."""
    try:
        layer = get_channel_layer()
        if layer is None:
            return False
        groups = [project_group(event.project_id)]
        if event.type in _MEMBERSHIP_CHANGES:
            groups.append(user_group(event.data["user"]["id"]))
        async_to_sync(_group_send_all)(layer, groups, {"type": "event.message", "event": event_payload(event)})
        Event.objects.filter(pk=event.pk).update(published_at=timezone.now())
    except Exception:
        logger.exception("event publish failed", extra={"fields": {"event": str(event.id), "seq": event.seq}})
        return False
    return True


def events_republish(*, settle_seconds: float = 5, window: timedelta = timedelta(hours=1), limit: int = 500) -> int:
    """Publish again, oldest first, the recent events the channel layer never took (Redis was away,
    or the publish timed out). Events younger than `settle_seconds` are still being published by
    their request. Consumers drop an event they already delivered, so a repeat is harmless."""
    now = timezone.now()
    unpublished = Event.objects.filter(
        published_at__isnull=True, at__lt=now - timedelta(seconds=settle_seconds), at__gte=now - window
    ).select_related("actor")
    published = 0
    for event in unpublished.order_by("seq")[:limit]:
        if not event_publish(event):
            break  # the layer is still away: try again on the next sweep
        published += 1
    return published


async def _group_send_all(layer: BaseChannelLayer, groups: list[str], message: dict[str, Any]) -> None:
    """Send in order: the project's group first, so a consumer joining it on the user's copy gets no second one."""
    async with asyncio.timeout(_PUBLISH_TIMEOUT_SECONDS):
        for group in groups:
            await layer.group_send(group, message)
