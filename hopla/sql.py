"""Raw SQL built from a model: an INSERT of a whole row, and values converted as the database takes them."""

import time
from collections.abc import Sequence
from functools import cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models

_UUID_FIELD = models.UUIDField()  # only converts values: building one per call was 0.8 % of a creation's GIL time


def db_uuid(value: Any) -> Any:
    """A UUID as the database takes it in raw SQL (SQLite stores UUIDs as hex text)."""
    return _UUID_FIELD.get_db_prep_value(value, connection)


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


def rows_copy(rows: Sequence[models.Model]) -> None:
    """Write new `rows` (of one model, every concrete column set, no `pre_save`) in one statement.

    On PostgreSQL, `COPY ... FROM STDIN` through psycopg's `Cursor.copy`: psycopg formats the rows in
    C. `bulk_create` built and quoted each value in Python (client-side binding): two thirds of an
    import batch's time (BENCHMARKS.md, "W9 again"). Django's query log (tests' statement counts,
    `CaptureQueriesContext`) does not see a COPY, so it is recorded there as Django records its own
    statements. Elsewhere (SQLite), `bulk_create`.
    """
    if not rows:
        return
    model = type(rows[0])
    database = connections[DEFAULT_DB_ALIAS]
    if database.vendor != "postgresql":
        model._default_manager.bulk_create(rows)
        return
    fields = model._meta.concrete_fields
    columns = ", ".join(_quoted_columns(model, database.vendor))
    sql = f"COPY {database.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN"
    started = time.monotonic()
    with database.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row([field.get_db_prep_save(getattr(row, field.attname), database) for field in fields])
    if database.queries_logged:
        database.queries_log.append({"sql": f"{sql} -- {len(rows)} rows", "time": f"{time.monotonic() - started:.3f}"})
