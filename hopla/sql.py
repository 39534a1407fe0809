"""Raw SQL built from a model: an INSERT of a whole row, and values converted as the database takes them."""

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
