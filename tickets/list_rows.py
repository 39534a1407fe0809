"""The ticket list read as plain rows: `QuerySet.values()` and a function that builds each answer.

A page of the list as model instances cost the ORM a Ticket and two Users per row (their
`from_db`, deferred-field bookkeeping, related-object caches) and then DRF's serializer walked each
field of each one: together about a third of the list's Python (BENCHMARKS.md, "Performance II").
The same statement read with `values()` (selectors.ticket_list_rows) gives dicts, and
`ticket_answer` writes the answer TicketWatchingSerializer writes, field by field. The serializer
stays the schema (drf-spectacular), the detail's and the writes' answer and the events' body;
tickets/tests/test_list_rows.py checks that both write the same JSON for every field, filter,
ordering and reader field.
"""

import datetime
from typing import Any

from tickets.models import Priority

_PRIORITY_NAMES = {priority.value: priority.label for priority in Priority}


def _datetime(value: datetime.datetime | None) -> str | None:
    """DRF's DateTimeField: ISO 8601 in the current time zone (UTC), `Z` for UTC."""
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _user(row: dict[str, Any], user: str) -> dict[str, Any] | None:
    user_id = row[f"{user}__id"]
    if user_id is None:
        return None
    return {"id": str(user_id), "email": row[f"{user}__email"], "full_name": row[f"{user}__full_name"]}


def ticket_answer(row: dict[str, Any]) -> dict[str, Any]:
    """The ticket of a `selectors.ticket_list_rows` row as TicketWatchingSerializer renders it, key for key."""
    due_date = row["due_date"]
    return {
        "id": str(row["id"]),
        "key": row["key"],
        "project": str(row["project_id"]),
        "title": row["title"],
        "description": row["description"],
        "status": row["status"],
        "priority": _PRIORITY_NAMES[row["priority"]],
        "labels": row["labels"],
        "assignee": _user(row, "assignee"),
        "reporter": _user(row, "reporter"),
        "due_date": None if due_date is None else due_date.isoformat(),
        "version": row["version"],
        "comment_count": row["comment_count"],
        "image_count": row["image_count"],
        "created_at": _datetime(row["created_at"]),
        "updated_at": _datetime(row["updated_at"]),
        "closed_at": _datetime(row["closed_at"]),
        "is_watching": row["is_watching"],
        "watcher_count": row["watcher_count"],
    }
