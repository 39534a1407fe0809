"""Event writing: each event numbered by the event counter and inserted in its writer's transaction."""

from typing import Any, NotRequired, TypedDict, Unpack

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.utils import timezone

from accounts.models import User
from hopla.sql import row_insert_sql
from tickets.models import Event, EventType
from tickets.services.event_publishing import event_publish_on_commit


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
