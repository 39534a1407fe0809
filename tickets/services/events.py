"""The one place events are written, and published to dashboards once their transaction commits."""

import atexit
import logging
import threading
import time
from datetime import timedelta
from functools import cache, partial
from typing import Any, NotRequired, TypedDict, Unpack

from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction
from django.utils import timezone

from accounts.models import User
from hopla.api.renderers import as_json_types
from hopla.channel_groups import groups_send, project_group, user_group
from tickets.models import Event, EventType
from tickets.serializers import EventSerializer

logger = logging.getLogger("hopla.events")


# A user who joins a project is not yet in its group, so these events also go to the user's own group.
_MEMBERSHIP_CHANGES = {EventType.MEMBER_ADDED, EventType.MEMBER_REMOVED}


def _next_seq_sql(amount: str = "1", *, after: str = "") -> str:
    """An upsert of the event counter's one row that answers (RETURNING `last`) the last number it took.

    The row stays locked until the transaction ends, so writers take numbers one after another and
    in commit order: a client that has seen event n and asks for `seq > n` can never miss one
    committed later. A writer waiting on the lock updates the row as its holder committed it (READ
    COMMITTED re-reads a row it waited for), all within one statement: unlike MAX(seq) + 1, which
    needed a lock taken by an earlier statement, so that its snapshot saw the holder's event. The
    insert branch creates a missing row (a flushed test database) from the table's highest `seq`.
    `after`: a CTE of the same statement that must have produced a row (the change the event
    records); without one no number is taken.
    """
    source = f" FROM {after}" if after else ""
    return (
        f"INSERT INTO tickets_eventcounter (id, last) SELECT 1, (SELECT COALESCE(MAX(seq), 0) + {amount}"
        f" FROM tickets_event){source} ON CONFLICT (id) DO UPDATE SET last = tickets_eventcounter.last + {amount}"
        " RETURNING last"
    )


def event_numbers_reserve(count: int) -> int:
    """Take `count` consecutive numbers for a bulk load that numbers events itself (seed_demo); answers
    the first. The counter stays locked until the caller's transaction ends, as for one event."""
    with connection.cursor() as cursor:
        cursor.execute(_next_seq_sql("%s"), [count, count])
        return int(cursor.fetchone()[0]) - count + 1


@cache
def _quoted_columns(model: type[models.Model], vendor: str) -> list[str]:
    """The model's quoted column names: the same every time, quoted once (per write, building the column
    lists was 2 % of a ticket creation's GIL time in `python -m bench.profile --workload W3`)."""
    return [connection.ops.quote_name(str(field.column)) for field in model._meta.concrete_fields]


def row_insert_sql(
    row: models.Model, *, source: str = "", column_sql: dict[str, str] | None = None
) -> tuple[str, list[Any]]:
    """An INSERT of every concrete column of `row`, with its values as they stand (no `pre_save`: the
    caller has set the timestamps it already rendered).

    `column_sql` (by column name) replaces a column's placeholder by an SQL expression, which may hold
    one `%s` for the value the row has; with `source` (tables or CTEs of the statement), the row is
    INSERT ... SELECT ... FROM source, so that those expressions can read them.
    """
    database = connections[DEFAULT_DB_ALIAS]  # once: each use of the `connection` proxy is a lookup
    column_sql = column_sql or {}
    expressions: list[str] = []
    values: list[Any] = []
    for field in row._meta.concrete_fields:
        expression = column_sql.get(str(field.column), "%s")
        expressions.append(expression)
        if "%s" in expression:
            values.append(field.get_db_prep_save(getattr(row, field.attname), database))
    columns = ", ".join(_quoted_columns(type(row), database.vendor))
    table = database.ops.quote_name(row._meta.db_table)
    if source:
        return f"INSERT INTO {table} ({columns}) SELECT {', '.join(expressions)} FROM {source}", values
    return f"INSERT INTO {table} ({columns}) VALUES ({', '.join(expressions)})", values


def event_insert(
    event: Event,
    *,
    ctes: str = "",
    cte_values: list[Any] | None = None,
    after: str = "",
    column_sql: dict[str, str] | None = None,
    returning: str = "",
) -> tuple[Any, ...] | None:
    """INSERT the event with the next `seq` in one statement (see _next_seq_sql); answers the
    RETURNING row (`seq`, then what `returning` adds), or None when `after` produced no row and so
    nothing was written. The caller then has it published once committed (event_publish_on_commit).

    On PostgreSQL a caller may put the change the event records in the same statement: `ctes` (with
    their `cte_values`) come first in its WITH, `after` names the one whose row must exist, and
    `column_sql` computes event columns from them (row_insert_sql). SQLite has no data-modifying
    WITH, nor needs a lock: it runs one write transaction at a time, so two statements do.
    """
    database = connections[DEFAULT_DB_ALIAS]
    if database.vendor != "postgresql":
        if ctes or after or column_sql:  # a caller's mistake: ticket_create writes step by step here
            raise ValueError("ctes, after and column_sql need PostgreSQL's data-modifying WITH")
        with database.cursor() as cursor:
            cursor.execute(_next_seq_sql())
            event.seq = cursor.fetchone()[0]
            sql, values = row_insert_sql(event)
            cursor.execute(f"{sql} RETURNING seq{returning}", values)
            returned = cursor.fetchone()
    else:
        sources = f"numbered, {after}" if after else "numbered"
        sql, values = row_insert_sql(event, source=sources, column_sql={"seq": "numbered.last", **(column_sql or {})})
        prefix = f"{ctes}, " if ctes else ""
        with database.cursor() as cursor:
            cursor.execute(
                f"WITH {prefix}numbered AS ({_next_seq_sql(after=after)}) {sql} RETURNING seq{returning}",
                [*(cte_values or []), *values],
            )
            returned = cursor.fetchone()
    if returned is None:
        return None
    event.seq = returned[0]
    event._state.adding = False
    event._state.db = database.alias
    return tuple(returned)


def event_publish_on_commit(event: Event) -> None:
    """Publish the written event once its transaction commits (at once, outside a transaction)."""
    transaction.on_commit(partial(_publish_and_mark, event))


class EventFields(TypedDict):
    """What the writer of an event says of it; the rest (id, seq, at) is the event's own."""

    type: EventType
    project_id: Any
    actor: User | None
    data: dict[str, Any]
    ticket_id: NotRequired[Any]
    changes: NotRequired[dict[str, list[Any]] | None]


def event_new(**fields: Unpack[EventFields]) -> Event:
    """An event not yet written: `at` is now, `seq` comes with its INSERT (event_insert)."""
    return Event(
        type=fields["type"],
        project_id=fields["project_id"],
        ticket=fields.get("ticket_id"),
        actor=fields["actor"],
        changes=fields.get("changes") or {},
        data=fields["data"],
        at=timezone.now(),
    )


def event_record(**fields: Unpack[EventFields]) -> Event:
    """Write an event in the caller's transaction (one statement) and publish it after commit."""
    if not connection.in_atomic_block:
        raise RuntimeError("event_record must run inside the transaction of the change it records")
    event = event_new(**fields)
    event_insert(event)
    event_publish_on_commit(event)
    return event


def event_payload(event: Event) -> dict[str, Any]:
    """The event as the API and the WebSocket show it, as plain JSON types (the layer uses msgpack)."""
    return as_json_types(EventSerializer(event).data)


def event_publish(event: Event) -> bool:
    """Push a committed event to its project's group; answers whether the layer took it. Never raises:
    the row is the truth; an event the layer did not take is pushed again by `events_republish` (the
    worker's sweep), and a client that was away gets it back with `resume`."""
    try:
        # The project's group first, so that a consumer joining it on the user's copy gets no second one.
        groups = [project_group(event.project_id)]
        if event.type in _MEMBERSHIP_CHANGES:
            groups.append(user_group(event.data["user"]["id"]))
        return groups_send(groups, {"type": "event.message", "event": event_payload(event)})
    except Exception:
        logger.exception("event publish failed", extra={"fields": {"event": str(event.id), "seq": event.seq}})
        return False


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
