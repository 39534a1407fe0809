"""The one place events are written, and published to dashboards once their transaction commits."""

import asyncio
import atexit
import logging
import threading
import time
from datetime import timedelta
from functools import cache, partial
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, get_channel_layer
from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import User
from hopla.api.renderers import as_json_types
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
# A stalled Redis must not hold the request that made the change for long (hopla's Redis layer
# bounds its blocking send with its own `publish_timeout_seconds`, 2 s too).
_PUBLISH_TIMEOUT_SECONDS = 2.0


def event_sequence_lock_sql() -> str:
    """The SQL expression that takes the lock ordering event numbering until the transaction ends.

    Whoever numbers events (event_record, seed_demo's bulk load) holds it, so numbers are handed out
    in commit order. A caller may take it inside a statement of its own (ticket_create does, in its
    counter update) and tell event_record with `sequence_locked=True`.
    """
    return f"pg_advisory_xact_lock({_EVENT_SEQUENCE_LOCK})"


def event_sequence_lock() -> None:
    """Take the numbering lock. SQLite needs none: it runs one write transaction at a time."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {event_sequence_lock_sql()}")


def event_sequence_lock_and_last() -> int:
    """Take the numbering lock and answer the last `seq` (for bulk loads that number events themselves)."""
    event_sequence_lock()
    return Event.objects.aggregate(last=Max("seq"))["last"] or 0


# Every concrete column but `seq`, which the INSERT computes (see _insert_numbered).
_EVENT_FIELDS: list[Any] = [field for field in Event._meta.concrete_fields if field.name != "seq"]


@cache
def _columns_sql(model: type[models.Model], vendor: str, skip: str = "") -> tuple[str, str]:
    """The quoted column list and placeholders of an INSERT into `model` (but its field `skip`): the
    same text every time, built once (per write, it was 2 % of a ticket creation's GIL time in
    `python -m bench.profile --workload W3`)."""
    fields = [field for field in model._meta.concrete_fields if field.name != skip]
    quote_name = connection.ops.quote_name
    return ", ".join(quote_name(str(field.column)) for field in fields), ", ".join(["%s"] * len(fields))


def row_insert_sql(row: models.Model) -> tuple[str, list[Any]]:
    """An INSERT of every concrete column of `row`, with its values as they stand (no `pre_save`: the
    caller has set the timestamps it already rendered)."""
    database = connections[DEFAULT_DB_ALIAS]  # once: each use of the `connection` proxy is a lookup
    columns, placeholders = _columns_sql(type(row), database.vendor)
    values = [field.get_db_prep_save(getattr(row, field.attname), database) for field in row._meta.concrete_fields]
    return f"INSERT INTO {database.ops.quote_name(row._meta.db_table)} ({columns}) VALUES ({placeholders})", values


def _insert_numbered(event: Event, *, inserted_with: models.Model | None = None) -> None:
    """INSERT the event with the next `seq`, computed by the statement itself: one round trip.

    The numbering lock must be held already, and taken by an earlier statement: a statement sees the
    rows committed before it started, so MAX(seq) here sees every event committed by the lock's last
    holder. The ORM cannot read back a value the database computed (only a default's), hence the SQL.
    `inserted_with` (PostgreSQL only): a row the same statement inserts first, in a data-modifying
    WITH: the change the event records, written without a round trip of its own under the locks.
    """
    database = connections[DEFAULT_DB_ALIAS]
    columns, placeholders = _columns_sql(Event, database.vendor, skip="seq")
    values = [field.get_db_prep_save(field.pre_save(event, add=True), database) for field in _EVENT_FIELDS]
    prefix = ""
    if inserted_with is not None:
        row_sql, row_values = row_insert_sql(inserted_with)
        prefix, values = f"WITH inserted AS ({row_sql}) ", [*row_values, *values]
    with database.cursor() as cursor:
        cursor.execute(
            f"{prefix}INSERT INTO tickets_event (seq, {columns})"
            f" VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM tickets_event), {placeholders}) RETURNING seq",
            values,
        )
        event.seq = cursor.fetchone()[0]
    event._state.adding = False
    event._state.db = database.alias
    if inserted_with is not None:
        inserted_with._state.adding = False
        inserted_with._state.db = database.alias


def event_record(
    *,
    type: EventType,
    project_id: Any,
    actor: User | None,
    data: dict[str, Any],
    ticket_id: Any = None,
    changes: dict[str, list[Any]] | None = None,
    sequence_locked: bool = False,
    inserted_with: models.Model | None = None,
) -> Event:
    """Write an event in the caller's transaction and publish it after commit.

    `seq` is taken under a transaction-scoped lock, so numbers are handed out in commit order: a
    client that has seen event n and asks for `seq > n` can never miss one committed later.
    `sequence_locked`: the caller took that lock in an earlier statement of this transaction.
    `inserted_with`: a new row to INSERT in the event's own statement (see _insert_numbered).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("event_record must run inside the transaction of the change it records")
    if not sequence_locked:
        event_sequence_lock()
    event = Event(
        type=type,
        project_id=project_id,
        ticket=ticket_id,
        actor=actor,
        changes=changes or {},
        data=data,
    )
    _insert_numbered(event, inserted_with=inserted_with)
    transaction.on_commit(partial(_publish_and_mark, event))
    return event


def event_payload(event: Event) -> dict[str, Any]:
    """The event as the API and the WebSocket show it, as plain JSON types (the layer uses msgpack)."""
    return as_json_types(EventSerializer(event).data)


def event_publish(event: Event) -> bool:
    """Push a committed event to its project's group; answers whether the layer took it. Never raises:
    the row is the truth; an event the layer did not take is pushed again by `events_republish` (the
    worker's sweep), and a client that was away gets it back with `resume`."""
    try:
        layer = get_channel_layer()
        if layer is None:
            return False
        groups = [project_group(event.project_id)]
        if event.type in _MEMBERSHIP_CHANGES:
            groups.append(user_group(event.data["user"]["id"]))
        message = {"type": "event.message", "event": event_payload(event)}
        send_blocking = getattr(layer, "group_send_blocking", None)  # hopla's Redis layer (realtime/layers.py)
        if send_blocking is None:
            async_to_sync(_group_send_all)(layer, groups, message)
        else:
            for group in groups:  # the project's group first, as in _group_send_all
                send_blocking(group, message)
    except Exception:
        logger.exception("event publish failed", extra={"fields": {"event": str(event.id), "seq": event.seq}})
        return False
    return True


def _publish_and_mark(event: Event) -> None:
    """After commit: publish, and have `published_at` set by the next batch (_PublishedMarks)."""
    if event_publish(event):
        _published_marks.add(event.pk)


def events_republish(*, settle_seconds: float = 5, window: timedelta = timedelta(hours=1), limit: int = 500) -> int:
    """Publish again, oldest first, the recent events the channel layer never took (Redis was away,
    or the publish timed out). Events younger than `settle_seconds` are still being published (and
    marked) by the process that wrote them. Consumers drop an event they already delivered, so a
    repeat is harmless."""
    now = timezone.now()
    unpublished = Event.objects.filter(
        published_at__isnull=True, at__lt=now - timedelta(seconds=settle_seconds), at__gte=now - window
    ).select_related("actor")
    published: list[Any] = []
    for event in unpublished.order_by("seq")[:limit]:
        if not event_publish(event):
            break  # the layer is still away: try again on the next sweep
        published.append(event.pk)
    if published:
        Event.objects.filter(pk__in=published).update(published_at=timezone.now())
    return len(published)


class _PublishedMarks:
    """Sets `published_at` of the events this process published, in one UPDATE per interval.

    Marking each event as it is published cost every write a second statement and commit after its
    own (bench/, W3). The mark only tells the sweep what not to publish again, so it may lag: a batch
    is written well within the sweep's settle time, and one lost with its process (or a failed
    UPDATE) means those events are published once more, which consumers ignore.
    """

    interval_seconds = 0.5

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._event_ids: list[Any] = []
        self._thread: threading.Thread | None = None

    def add(self, event_id: Any) -> None:
        with self._lock:
            self._event_ids.append(event_id)
            # Started on first use, and again in a forked child (threads do not survive a fork).
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="event published marks", daemon=True)
                self._thread.start()

    def flush(self, *, at_exit: bool = False) -> int:
        """Write the pending marks now; answers how many events were marked. A failure leaves those
        events to the sweep, which publishes them once more. At exit the database may be gone already:
        worth a line, not a traceback."""
        with self._lock:
            event_ids, self._event_ids = self._event_ids, []
        if not event_ids:
            return 0
        try:
            return Event.objects.filter(pk__in=event_ids).update(published_at=timezone.now())
        except Exception as error:
            if at_exit:
                logger.warning("event published marks not written at exit: %s", type(error).__name__)
            else:
                logger.exception("event published marks not written", extra={"fields": {"events": len(event_ids)}})
            return 0

    def _run(self) -> None:
        while True:
            time.sleep(self.interval_seconds)
            try:
                self.flush()
            finally:
                connection.close()  # this thread's own connection (back to the pool, if any)


_published_marks = _PublishedMarks()
atexit.register(partial(_published_marks.flush, at_exit=True))


async def _group_send_all(layer: BaseChannelLayer, groups: list[str], message: dict[str, Any]) -> None:
    """Send in order: the project's group first, so a consumer joining it on the user's copy gets no second one."""
    async with asyncio.timeout(_PUBLISH_TIMEOUT_SECONDS):
        for group in groups:
            await layer.group_send(group, message)
