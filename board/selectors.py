"""What a board shows: a project's tickets by status, filtered as the API's list filters them.

Every read starts from `tickets.selectors.ticket_list` (the tickets the user may see) and applies
the API's own `TicketFilter`, so a board's filter means what the same query string means on
`GET /api/v1/tickets/`.
"""

from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Count, Max, QuerySet
from django.http import HttpRequest, QueryDict

from accounts.models import User
from tickets import selectors
from tickets.filters import TicketFilter
from tickets.models import Event, Project, Status, Ticket

# The list filters a board offers (SPEC §12); the page's query string uses the API's names.
BOARD_FILTERS = ("search", "assignee", "priority", "label")
# Cards per column on the first screen and per "show more": a project of thousands of tickets
# (mostly closed) renders in the same time as one of a few hundred.
COLUMN_PAGE_SIZE = 25


@dataclass
class BoardFilters:
    """The board's filters from a query string: the valid ones, and a sentence per refused one."""

    values: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def query_string(self) -> str:
        query = QueryDict(mutable=True)
        query.update(self.values)
        return query.urlencode()


def board_filters_parse(query: QueryDict) -> BoardFilters:
    """The board's filters in `query`; a value the API would refuse is dropped with its message."""
    filters = BoardFilters()
    for name in BOARD_FILTERS:
        value = query.get(name, "").strip()
        if not value:
            continue
        form = TicketFilter({name: value}).form
        if form.is_valid():
            filters.values[name] = value
        else:
            messages = "; ".join(str(error) for error in form.errors.get(name, []))
            filters.errors.append(f"The {name} filter was ignored: {messages}")
    return filters


def board_tickets(*, user: User, project: Project, filters: BoardFilters, request: HttpRequest) -> QuerySet[Ticket]:
    """The project's tickets that `user` may see and that match `filters`; most recently changed first."""
    tickets = selectors.ticket_list(user=user).filter(project_id=project.pk)
    if filters.values:
        query = QueryDict(mutable=True)
        query.update(filters.values)
        tickets = TicketFilter(query, queryset=tickets, request=request).qs
    return tickets.order_by("-updated_at", "-id")


def board_counts(*, tickets: QuerySet[Ticket]) -> dict[str, int]:
    """How many of `tickets` are in each status (every status present, zeros included)."""
    counts = dict.fromkeys(Status.values, 0)
    for row in tickets.order_by().values("status").annotate(total=Count("id")):
        counts[row["status"]] = row["total"]
    return counts


def board_column_page(*, tickets: QuerySet[Ticket], status: str, offset: int = 0) -> list[Ticket]:
    return list(tickets.filter(status=status)[offset : offset + COLUMN_PAGE_SIZE])


def board_last_event_seq() -> int:
    """The last event's seq: a page rendered now shows everything up to it, so its socket resumes after it."""
    return Event.objects.aggregate(last=Max("seq"))["last"] or 0


def board_members(*, project: Project) -> list[dict[str, Any]]:
    """The project's members, as the assignee choices of filters and forms."""
    return [
        {"id": str(membership.user_id), "name": membership.user.full_name or membership.user.email}
        for membership in selectors.member_list(project=project).order_by("user__full_name", "user__email")
    ]


# What a ticket's panel (board/_panel.html) shows that can change, in one row, for the panel's ETag:
# the reader's role (the controls), the ticket's columns that move with a change (every field change
# bumps `version`; counts and the assignee move without it), its newest event (comments written,
# edited or deleted, images made ready or failed, every change its history lists), its images'
# states (pending -> processing writes no event), the project's members (the assignee choices), the
# watchers, and the ListStamp that user renames and deletions bump (names of members, authors and
# actors). No row: not the reader's, or no such ticket, and the page answers its 404 the usual way.
_PANEL_STATE = """
SELECT
    m.role, t.id, t.version, t.updated_at, t.comment_count, t.image_count, t.assignee_id, t.reporter_id,
    (SELECT e.seq FROM tickets_event e WHERE e.ticket = t.id ORDER BY e.seq DESC LIMIT 1),
    (SELECT string_agg(i.id::text || ':' || i.status, ',' ORDER BY i.id) FROM tickets_image i WHERE i.ticket_id = t.id),
    (SELECT string_agg(pm.user_id::text, ',' ORDER BY pm.user_id)
     FROM tickets_membership pm WHERE pm.project_id = t.project_id),
    (SELECT COUNT(*) FROM tickets_watcher w WHERE w.ticket_id = t.id),
    EXISTS(SELECT 1 FROM tickets_watcher w WHERE w.ticket_id = t.id AND w.user_id = m.user_id),
    (SELECT value FROM tickets_liststamp WHERE id = 1)
FROM tickets_ticket t
JOIN tickets_project p ON p.id = t.project_id
JOIN tickets_membership m ON m.project_id = t.project_id AND m.user_id = %s
WHERE t.key = %s AND p.key = %s
"""


def board_panel_state(*, user: User, project_key: str, ticket_key: str) -> tuple[Any, ...] | None:
    """What the panel of `ticket_key` shows `user` depends on, read in one statement (`_PANEL_STATE`);
    None when the user may not see it, it does not exist, or the database is not PostgreSQL (SQLite
    has no ListStamp trigger)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(_PANEL_STATE, [user.pk, ticket_key.upper(), project_key])
        row = cursor.fetchone()
    return tuple(row) if row is not None else None
