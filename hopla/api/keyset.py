"""Keyset ("seek") pages: the rows just after, or just before, a position in a queryset's ordering.

A position is the tuple of the ordering's values of one row. The next page is `WHERE (ordering) >
(position) ORDER BY ordering LIMIT n`, so a page deep into a table costs what the first page costs
(an index range read from the position), where `OFFSET` reads and throws away every row before it.
Rows inserted or deleted between two requests move no other row, so a walk neither repeats nor
skips the rows that exist throughout. The ordering must end with a unique column (the id).

The position travels in an opaque cursor: URL-safe base64 of a small JSON document that also names
the ordering it belongs to. It carries positions only; what a user may see still comes from the query.
"""

import base64
import binascii
import datetime
import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models import F, OrderBy, Q, QuerySet
from django.db.models.fields.tuple_lookups import (
    Tuple,
    TupleGreaterThan,
    TupleGreaterThanOrEqual,
    TupleLessThan,
    TupleLessThanOrEqual,
)

from hopla.api.exceptions import ApplicationError

CURSOR_VERSION = 1
MAX_CURSOR_LENGTH = 2000
# Larger numbers than any column holds would only make PostgreSQL compare against numeric.
_MAX_INTEGER = 2**63 - 1
_MAX_TEXT = 1000
# Never matches: the "beyond" of a position past which the walk has nothing.
_NOTHING = Q(pk__in=[])


def invalid_cursor(reason: str) -> ApplicationError:
    """400 `invalid_cursor`, naming the parameter in `errors` as the other query-parameter errors do."""
    message = f"Invalid `cursor`: {reason}"
    errors = {"cursor": [{"message": message, "code": "invalid_cursor"}]}
    return ApplicationError(message, code="invalid_cursor", extra={"errors": errors})


@dataclass(frozen=True)
class SortKey:
    """One column of the ordering; `nulls_last` is None for a column that cannot be NULL."""

    path: str
    descending: bool
    nulls_last: bool | None
    output_field: models.Field

    @property
    def name(self) -> str:
        return ("-" if self.descending else "") + self.path


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: the rows after `position` (forward) or before it, optionally including it."""

    position: tuple[Any, ...]
    forward: bool
    inclusive: bool = False


def sort_keys(queryset: QuerySet[Any]) -> list[SortKey]:
    """The queryset's explicit ordering as sort keys (only plain fields and annotations, as F or names)."""
    keys = []
    scratch = queryset.all()  # resolving a related path adds its join: not to the caller's query
    for item in queryset.query.order_by:
        if isinstance(item, str):
            path, descending, nulls_last = item.removeprefix("-"), item.startswith("-"), None
        elif isinstance(item, OrderBy) and isinstance(item.expression, F):
            path = item.expression.name  # type: ignore[attr-defined]  # F.name is not in the stubs
            descending = item.descending
            nulls_last = True if item.nulls_last else False if item.nulls_first else None
        else:
            raise ImproperlyConfigured(f"Keyset pages need orderings by field names or F(), not {item!r}.")
        output_field = scratch.query.resolve_ref(path, allow_joins=True).output_field
        if output_field.null and nulls_last is None:
            raise ImproperlyConfigured(f"Order the nullable {path!r} with nulls_first or nulls_last explicitly.")
        keys.append(SortKey(path, descending, nulls_last if output_field.null else None, output_field))
    if not keys:
        raise ImproperlyConfigured("Keyset pages need an explicit ordering that ends with a unique column.")
    return keys


def _annotation(index: int) -> str:
    return f"keyset_position_{index}"


def page(queryset: QuerySet[Any], keys: list[SortKey], cursor: Cursor | None, limit: int) -> tuple[list[Any], bool]:
    """Up to `limit` rows from the cursor on, in the queryset's order, and whether the walk goes further.

    Each row carries its position (see `position_of`); the query reads one row more than the page
    to learn whether another page follows, and runs backwards (reversed ordering) for `previous`.
    """
    rows = _with_positions(queryset, keys)
    if cursor is not None:
        rows = rows.filter(_beyond(keys, cursor))
        if not cursor.forward:
            rows = rows.order_by(*[_reversed(key) for key in keys])
    found = list(rows[: limit + 1])
    more = len(found) > limit
    found = found[:limit]
    if cursor is not None and not cursor.forward:
        found.reverse()
    return found, more


def position_of(row: Any, keys: list[SortKey]) -> tuple[Any, ...]:
    """The row's position: from a model instance, or from a dict of `values()` (annotated after it)."""
    if isinstance(row, dict):
        return tuple(row[_annotation(index)] for index in range(len(keys)))
    return tuple(getattr(row, _annotation(index)) for index in range(len(keys)))


def cursor_at(queryset: QuerySet[Any], index: int) -> str:
    """The cursor of the page that starts at row `index` (> 0) of the queryset, without walking to it."""
    keys = sort_keys(queryset)
    row = _with_positions(queryset, keys)[index - 1]
    return encode(keys, Cursor(position_of(row, keys), forward=True))


def _with_positions(queryset: QuerySet[Any], keys: list[SortKey]) -> QuerySet[Any]:
    """The values of the ordering selected with the rows, so that a cursor can be made from any row
    without touching relations (`project__key` would cost a query per row otherwise)."""
    return queryset.annotate(**{_annotation(index): F(key.path) for index, key in enumerate(keys)})


def _reversed(key: SortKey) -> OrderBy:
    nulls = {} if key.nulls_last is None else {"nulls_first": True} if key.nulls_last else {"nulls_last": True}
    return OrderBy(F(key.path), descending=not key.descending, **nulls)


def _beyond(keys: list[SortKey], cursor: Cursor) -> Q:
    """The rows after the position in the walk's direction (after or at it, when inclusive)."""
    uniform = len({key.descending for key in keys}) == 1
    if uniform and all(key.nulls_last is None for key in keys):
        # One row comparison: PostgreSQL reads a btree on these columns from the position on.
        ascending_walk = keys[0].descending != cursor.forward
        lookup = {
            (True, False): TupleGreaterThan,
            (True, True): TupleGreaterThanOrEqual,
            (False, False): TupleLessThan,
            (False, True): TupleLessThanOrEqual,
        }[(ascending_walk, cursor.inclusive)]
        return Q(lookup(Tuple(*[F(key.path) for key in keys]), list(cursor.position)))
    # Mixed directions or NULLs: (a beyond) or (a equal and b beyond) or ... as one expanded condition.
    condition = _equal(keys, cursor.position) if cursor.inclusive else _NOTHING
    for index, key in enumerate(keys):
        condition |= _equal(keys[:index], cursor.position[:index]) & _beyond_one(key, cursor.position[index], cursor)
    return condition


def _equal(keys: list[SortKey], position: tuple[Any, ...]) -> Q:
    equal = Q()
    for key, value in zip(keys, position, strict=True):
        equal &= Q(**{f"{key.path}__isnull": True}) if value is None else Q(**{key.path: value})
    return equal


def _beyond_one(key: SortKey, value: Any, cursor: Cursor) -> Q:
    ascending_walk = key.descending != cursor.forward
    # NULLs sort at one end; whether that end lies ahead depends on the direction of the walk.
    nulls_ahead = key.nulls_last is not None and key.nulls_last == cursor.forward
    if value is None:
        return _NOTHING if nulls_ahead else Q(**{f"{key.path}__isnull": False})
    beyond = Q(**{f"{key.path}__{'gt' if ascending_walk else 'lt'}": value})
    return (beyond | Q(**{f"{key.path}__isnull": True})) if nulls_ahead else beyond


# --- the cursor string ------------------------------------------------------------------------------


def encode(keys: list[SortKey], cursor: Cursor) -> str:
    document = {
        "v": CURSOR_VERSION,
        "o": ",".join(key.name for key in keys),
        "p": [_json_value(value) for value in cursor.position],
        "d": "next" if cursor.forward else "previous",
        **({"i": True} if cursor.inclusive else {}),
    }
    raw = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime.date):  # datetimes too: isoformat keeps microseconds and the offset
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def decode(text: str, keys: list[SortKey]) -> Cursor:
    """The cursor in `text`, checked against the ordering in use; any defect is a 400 `invalid_cursor`."""
    if len(text) > MAX_CURSOR_LENGTH:
        raise invalid_cursor("too long.")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        document = json.loads(raw)
    except (binascii.Error, ValueError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise invalid_cursor("not a cursor this API made.") from None
    if not isinstance(document, dict) or set(document) - {"v", "o", "p", "d", "i"}:
        raise invalid_cursor("not a cursor this API made.")
    if document.get("v") != CURSOR_VERSION:
        raise invalid_cursor("made by another version of the API; start again from the first page.")
    ordering = ",".join(key.name for key in keys)
    if document.get("o") != ordering:
        raise invalid_cursor("made for another `ordering`; start again from the first page.")
    position = document.get("p")
    if not isinstance(position, list) or len(position) != len(keys):
        raise invalid_cursor("its position does not fit the ordering.")
    if document.get("d") not in ("next", "previous") or document.get("i", False) not in (True, False):
        raise invalid_cursor("not a cursor this API made.")
    values = tuple(_python_value(key, value) for key, value in zip(keys, position, strict=True))
    return Cursor(values, forward=document["d"] == "next", inclusive=document.get("i", False))


def _python_value(key: SortKey, value: Any) -> Any:
    """The JSON value as the column's Python type, or a 400: never a value the database would refuse."""
    field = key.output_field
    wrong = invalid_cursor(f"bad value for `{key.path}`.")
    if value is None:
        if key.nulls_last is None:
            raise wrong
        return None
    try:
        if isinstance(field, models.DateTimeField):
            parsed = datetime.datetime.fromisoformat(value) if isinstance(value, str) else None
            if parsed is None or parsed.tzinfo is None:
                raise wrong
            return parsed
        if isinstance(field, models.DateField):
            if not isinstance(value, str):
                raise wrong
            return datetime.date.fromisoformat(value)
        if isinstance(field, models.IntegerField):
            if type(value) is not int or abs(value) > _MAX_INTEGER:
                raise wrong
            return value
        if isinstance(field, models.UUIDField):
            if not isinstance(value, str):
                raise wrong
            return uuid.UUID(value)
        if isinstance(field, models.CharField | models.TextField):
            if not isinstance(value, str) or len(value) > _MAX_TEXT or "\x00" in value:
                raise wrong
            return value
    except (ValueError, OverflowError):
        raise wrong from None
    raise ImproperlyConfigured(f"Keyset cursors do not know how to carry a {type(field).__name__}.")
