"""Tickets written as a CSV or NDJSON file (SPEC §13), row by row from a server-side cursor.

The columns are the contract's: key, title, status, priority, labels, assignee and reporter (emails),
due_date, created_at, updated_at, closed_at, description. CSV is RFC 4180 (the `csv` module, CRLF line
ends, quotes where needed), UTF-8 with a header row; a text cell that a spreadsheet would run as a
formula (starting with = + - @, or a tab or carriage return that some strip first) gets a leading `'`.
NDJSON is one JSON object per line, labels as a list. A `hopla-csv` import reads this file back.
"""

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import orjson
from django.db.models import QuerySet

from tickets.models import Priority, Ticket

COLUMNS = (
    "key", "title", "status", "priority", "labels", "assignee", "reporter", "due_date", "created_at", "updated_at",
    "closed_at", "description",
)  # fmt: skip
_SOURCES = (
    "key", "title", "status", "priority", "labels", "assignee__email", "reporter__email", "due_date", "created_at",
    "updated_at", "closed_at", "description",
)  # fmt: skip
# Rows fetched per round trip from the server-side cursor, and written per chunk of the body.
ROWS_PER_CHUNK = 2000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PRIORITY_NAMES = dict(Priority.choices)
_TEXT_COLUMNS = tuple(COLUMNS.index(name) for name in ("title", "labels", "assignee", "reporter", "description"))
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}


def export_rows(tickets: QuerySet[Ticket]) -> Iterator[tuple[Any, ...]]:
    """The export's columns of `tickets` (already scoped, filtered and ordered), read in chunks."""
    return tickets.values_list(*_SOURCES).iterator(chunk_size=ROWS_PER_CHUNK)


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")  # as the API writes times


def _values(row: tuple[Any, ...]) -> list[Any]:
    """A row's values as the file shows them (None where empty), in COLUMNS' order."""
    key, title, status, priority, labels, assignee, reporter, due, created, updated, closed, description = row
    return [
        key,
        title,
        status,
        _PRIORITY_NAMES[priority],
        labels,
        assignee,
        reporter,
        None if due is None else due.isoformat(),
        _time(created),
        _time(updated),
        _time(closed),
        description,
    ]


def guard_formula(cell: str) -> str:
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell


def _csv_cells(row: tuple[Any, ...]) -> list[Any]:
    values = _values(row)
    values[4] = ",".join(values[4])  # labels never contain commas (LabelsField)
    # The cells people write (key, status, priority and times never start with a formula character).
    for index in _TEXT_COLUMNS:
        cell = values[index]
        if cell and cell.startswith(FORMULA_STARTS):
            values[index] = "'" + cell
    return values


def csv_chunks(rows: Iterable[tuple[Any, ...]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    batch: list[list[Any]] = []
    for row in rows:
        batch.append(_csv_cells(row))
        if len(batch) == ROWS_PER_CHUNK:
            writer.writerows(batch)
            batch.clear()
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    writer.writerows(batch)
    yield buffer.getvalue().encode()


def ndjson_chunks(rows: Iterable[tuple[Any, ...]]) -> Iterator[bytes]:
    lines: list[bytes] = []
    for row in rows:
        lines.append(orjson.dumps(dict(zip(COLUMNS, _values(row), strict=True))))
        if len(lines) == ROWS_PER_CHUNK:
            yield b"\n".join(lines) + b"\n"
            lines.clear()
    if lines:
        yield b"\n".join(lines) + b"\n"


WRITERS = {"csv": csv_chunks, "ndjson": ndjson_chunks}
