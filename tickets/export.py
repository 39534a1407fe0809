"""Tickets written as a CSV or NDJSON file (SPEC §13), chunk by chunk from a server-side cursor.

The columns are the contract's: key, title, status, priority, labels, assignee and reporter (emails),
due_date, created_at, updated_at, closed_at, description. CSV is RFC 4180 as the `csv` module writes it
(CRLF line ends, quotes where needed), UTF-8 with a header row; a text cell that a spreadsheet would run
as a formula (starting with = + - @, or a tab or carriage return that some strip first) gets a leading
`'`. NDJSON is one JSON object per line, labels as a list. A `hopla-csv` import reads this file back.

PostgreSQL renders every cell as the file shows it (`export_cells`: times as the API writes them,
priorities by name, labels joined, the formula guard), and for CSV the whole line (`csv_line`: the
quoting `csv.writer` does), so that Python only joins the cursor's strings into chunks: converting each
value to Python and formatting it again cost nine tenths of the export's time, and `csv.writer`, which
reads every character of every cell, still two thirds of what remained (BENCHMARKS.md, "W9 again").
tickets/tests/test_export.py checks the SQL's cells against the same rendering written in Python, and
its lines against what `csv.writer` writes of those cells, byte for byte.
"""

import csv
import io
from collections.abc import Iterator
from itertools import islice
from typing import Any

import orjson
from django.db.models import Case, F, Func, QuerySet, TextField, Value, When
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce

from tickets.models import Priority, Ticket

COLUMNS = (
    "key", "title", "status", "priority", "labels", "assignee", "reporter", "due_date", "created_at", "updated_at",
    "closed_at", "description",
)  # fmt: skip
# Rows fetched per round trip from the server-side cursor, and written per chunk of the body (about
# 0.8 MB of CSV: few hand-offs between the request's thread and the ASGI server's loop, flat memory).
ROWS_PER_CHUNK = 2000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}
_TEXT = TextField()


class UtcIsoTime(Func):
    """A timestamp as the API writes it (Python's `isoformat()` in UTC, `Z` for `+00:00`): microseconds
    only when they are not all zero."""

    template = (
        "replace(to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), '.000000Z', 'Z')"
    )
    output_field = _TEXT


class IsoDate(Func):
    template = "to_char(%(expressions)s, 'YYYY-MM-DD')"
    output_field = _TEXT


_FORMULA_START_CHARS = ", ".join(f"chr({ord(start)})" for start in FORMULA_STARTS)  # as an SQL list
_QUOTE = "''''"  # the SQL literal of one `'`


class JoinedLabels(Func):
    """The labels (a jsonb list of strings) joined by commas; labels never contain commas (LabelsField).

    jsonb writes a list of strings as `["a", "b"]`: without a backslash (no label with a quote or a
    backslash in it, the usual case) its text between the outer `["` and `"]`, with `", "` made `,`, is
    the joined labels, at a third of what PostgreSQL spends unnesting each list. Else unnested."""

    template = (
        "CASE WHEN strpos(%(expressions)s::text, chr(92)) = 0"
        " THEN replace(substr(%(expressions)s::text, 3, greatest(length(%(expressions)s::text) - 4, 0)), '\", \"', ',')"
        " ELSE array_to_string(ARRAY(SELECT jsonb_array_elements_text(%(expressions)s)), ',') END"
    )
    output_field = _TEXT


class GuardedJoinedLabels(JoinedLabels):
    """JoinedLabels with the formula guard, read from the first label (the joined text is built once)."""

    template = (
        f"CASE WHEN left(%(expressions)s->>0, 1) IN ({_FORMULA_START_CHARS}) THEN {_QUOTE} ELSE '' END || "
        f"{JoinedLabels.template}"
    )


class FormulaGuarded(Func):
    """The text with a leading `'` when it starts with one of FORMULA_STARTS (`guard_formula` in SQL)."""

    template = (
        f"CASE WHEN left(%(expressions)s, 1) IN ({_FORMULA_START_CHARS})"
        f" THEN {_QUOTE} || %(expressions)s ELSE %(expressions)s END"
    )
    output_field = _TEXT


def guard_formula(cell: str) -> str:
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell


def _priority_name() -> Case:
    return Case(*[When(priority=value, then=Value(name)) for value, name in Priority.choices], output_field=_TEXT)


def export_cells(*, guarded: bool) -> dict[str, Combinable]:
    """Each column's cell as SQL, by column name. `guarded` (CSV): labels joined, the formula guard on
    the cells people write (key, status, priority and times never start with a formula character);
    otherwise (NDJSON) labels stay a JSON list, as text."""
    guard = FormulaGuarded if guarded else (lambda expression: expression)
    labels: Combinable = GuardedJoinedLabels("labels")
    if not guarded:
        labels = Func(F("labels"), template="%(expressions)s::text", output_field=_TEXT)
    return {
        "key": F("key"),
        "title": guard(F("title")),
        "status": F("status"),
        "priority": _priority_name(),
        "labels": labels,
        "assignee": guard(F("assignee__email")),
        "reporter": guard(F("reporter__email")),
        "due_date": IsoDate("due_date"),
        "created_at": UtcIsoTime("created_at"),
        "updated_at": UtcIsoTime("updated_at"),
        "closed_at": UtcIsoTime("closed_at"),
        "description": guard(F("description")),
    }


def export_rows(tickets: QuerySet[Ticket], *, guarded: bool) -> Iterator[tuple[Any, ...]]:
    """The export's cells of `tickets` (already scoped, filtered and ordered), read in chunks."""
    cells = {f"export_{name}": cell for name, cell in export_cells(guarded=guarded).items()}
    return tickets.annotate(**cells).values_list(*cells).iterator(chunk_size=ROWS_PER_CHUNK)


def _formula_prefix(text: str) -> str:
    """SQL: `'` when `text` starts with one of FORMULA_STARTS, else empty."""
    return f"CASE WHEN left({text}, 1) IN ({_FORMULA_START_CHARS}) THEN {_QUOTE} ELSE '' END"


def _needs_quotes(text: str) -> str:
    """SQL: whether `csv.writer` (QUOTE_MINIMAL) quotes `text`: it holds a double quote, a comma, a carriage
    return or a line feed. Four `strpos` cost less than one regular expression, which PostgreSQL matches
    on a wide-character copy of the text (measured on the W9 data: 0.67 against 0.71 s of CPU)."""
    return " OR ".join(f"strpos({text}, {char}) > 0" for char in ("'\"'", "','", "chr(13)", "chr(10)"))


class GuardedCsvCell(Func):
    """`guard_formula(text)` as `csv.writer` writes it: in double quotes, its own doubled, when it needs
    quotes (the guard's `'` never does). NULL stays NULL.

    The text is named several times in the template: give it a column, which PostgreSQL reads again for
    nothing, not an expression, which it would compute again each time. Guarding and quoting in one
    expression rather than quoting the guarded text reads the text's first character once per row
    instead of three times (with the labels below: 0.91 s of PostgreSQL CPU per 112 000 rows before,
    0.67 after)."""

    template = (
        f"CASE WHEN {_needs_quotes('%(expressions)s')}"
        f" THEN '\"' || {_formula_prefix('%(expressions)s')} || replace(%(expressions)s, '\"', '\"\"') || '\"'"
        f" ELSE {_formula_prefix('%(expressions)s')} || %(expressions)s END"
    )
    output_field = _TEXT


class CsvLabelsCell(Func):
    """The labels joined (`JoinedLabels`), guarded and quoted as `GuardedCsvCell` does, reading the
    column's JSON text three times instead of nine.

    Without a backslash in that text no label holds a double quote or a control character (JSON would
    escape them), so the joined labels need quotes exactly when the text holds a comma, and the guard
    reads the first label. With one, the labels are unnested and the joined text is guarded and quoted
    in full (rare: a quote or a backslash in a label)."""

    _joined = "replace(left(substr(%(expressions)s::text, 3), -2), '\", \"', ',')"
    _guard = _formula_prefix("%(expressions)s->>0")
    _unnested = "array_to_string(ARRAY(SELECT jsonb_array_elements_text(%(expressions)s)), ',')"
    template = (
        "CASE WHEN strpos(%(expressions)s::text, chr(92)) = 0 THEN"
        f" CASE WHEN strpos(%(expressions)s::text, ',') > 0 THEN '\"' || {_guard} || {_joined} || '\"'"
        f" ELSE {_guard} || {_joined} END"
        f" ELSE {GuardedCsvCell.template.replace('%(expressions)s', _unnested)} END"
    )
    output_field = _TEXT


class CsvLine(Func):
    """The cells joined by commas, NULL as empty (as `csv.writer` writes None), ended by `\\r\\n`."""

    arg_joiner = " || ',' || "
    template = "%(expressions)s || chr(13) || chr(10)"
    output_field = _TEXT

    def __init__(self, *cells: Combinable) -> None:
        super().__init__(*[Coalesce(cell, Value(""), output_field=_TEXT) for cell in cells])


def csv_line() -> CsvLine:
    """A ticket's whole CSV line, rendered by PostgreSQL: the unguarded cells of `export_cells` where
    people do not write (keys, names of statuses and priorities, dates and times never hold a comma, a
    quote or a line end, nor start a formula), guarded and quoted in one expression where they do
    (title, labels, emails, description). The CSV export reads only these lines; the guarded cells
    of `export_cells(guarded=True)` stay as the reference tickets/tests/test_export.py writes with
    `csv.writer` and compares these lines with, byte for byte."""
    cells = export_cells(guarded=False)
    return CsvLine(
        *[
            cells["key"],
            GuardedCsvCell("title"),
            cells["status"],
            cells["priority"],
            CsvLabelsCell("labels"),
            GuardedCsvCell("assignee__email"),
            GuardedCsvCell("reporter__email"),
            *[cells[name] for name in ("due_date", "created_at", "updated_at", "closed_at")],
            GuardedCsvCell("description"),
        ]
    )


def csv_header() -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(COLUMNS)
    return buffer.getvalue()


def csv_chunks(tickets: QuerySet[Ticket]) -> Iterator[bytes]:
    """The header, then ROWS_PER_CHUNK lines per chunk, each line whole from PostgreSQL (`csv_line`)."""
    lines = tickets.annotate(export_line=csv_line()).values_list("export_line", flat=True)
    rows = lines.iterator(chunk_size=ROWS_PER_CHUNK)
    yield csv_header().encode()
    while batch := list(islice(rows, ROWS_PER_CHUNK)):
        yield "".join(batch).encode()


def ndjson_chunks(tickets: QuerySet[Ticket]) -> Iterator[bytes]:
    rows = export_rows(tickets, guarded=False)
    labels_at = COLUMNS.index("labels")
    while batch := list(islice(rows, ROWS_PER_CHUNK)):
        lines = []
        for row in batch:
            record = dict(zip(COLUMNS, row, strict=True))
            record["labels"] = orjson.loads(row[labels_at])
            lines.append(orjson.dumps(record))
        lines.append(b"")
        yield b"\n".join(lines)


WRITERS = {"csv": csv_chunks, "ndjson": ndjson_chunks}
