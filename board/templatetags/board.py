"""What cards and panels compute from a ticket: the workflow's moves, overdue dates, history lines."""

import datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.safestring import SafeString

from hopla.markdown import markdown_to_html
from tickets.models import Priority, Status, Ticket
from tickets.workflow import ALLOWED_TRANSITIONS

register = template.Library()

STATUS_LABELS = {
    Status.OPEN: "Open",
    Status.IN_PROGRESS: "In progress",
    Status.RESOLVED: "Resolved",
    Status.CLOSED: "Closed",
}


@register.filter
def status_label(status: str) -> str:
    return STATUS_LABELS.get(Status(status), status) if status in Status.values else status


@register.filter
def priority_name(priority: int) -> str:
    return Priority(priority).label


@register.filter
def move_targets(ticket: Ticket) -> list[tuple[str, str]]:
    """The statuses §5's workflow lets the ticket move to, with their labels."""
    return [(target.value, STATUS_LABELS[target]) for target in ALLOWED_TRANSITIONS[Status(ticket.status)]]


@register.filter
def is_overdue(ticket: Ticket) -> bool:
    """Past its due date and neither resolved nor closed (the API's `overdue=true`)."""
    due: datetime.date | None = ticket.due_date
    return due is not None and due < timezone.localdate() and ticket.status not in (Status.RESOLVED, Status.CLOSED)


def _shown(field: str, value: Any) -> str:
    if value in (None, "", []):
        return "—"
    if field == "status":
        return status_label(str(value))
    if field == "labels" and isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, dict):
        return str(value.get("full_name") or value.get("email") or value.get("id", ""))
    return str(value)


@register.filter
def history_changes(changes: Any) -> list[tuple[str, str, str]]:
    """An event's `changes` (`{field: [old, new]}`) as (field, old, new) lines to show."""
    if not isinstance(changes, dict):
        return []
    lines = []
    for field, pair in changes.items():
        if isinstance(pair, list) and len(pair) == 2:
            shown_old, shown_new = _shown(field, pair[0]), _shown(field, pair[1])
            if field == "description":
                shown_old, shown_new = "…", "(edited)"
            lines.append((field.replace("_", " "), shown_old, shown_new))
    return lines


@register.filter
def markdown(source: str) -> SafeString:
    """Markdown source rendered and sanitised (hopla.markdown): descriptions and comments."""
    return markdown_to_html(source or "")


@register.filter
def person(user: Any) -> str:
    """A user's name as pages show it; an account deleted since (a null foreign key) or the worker."""
    if user is None:
        return "someone"
    return str(user.full_name or user.email)
