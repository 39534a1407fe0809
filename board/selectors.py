"""What a board shows: a project's tickets by status, filtered as the API's list filters them.

Every read starts from `tickets.selectors.ticket_list` (the tickets the user may see) and applies
the API's own `TicketFilter`, so a board's filter means what the same query string means on
`GET /api/v1/tickets/`.
"""

from dataclasses import dataclass, field
from typing import Any

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
