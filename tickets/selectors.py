"""Reads scoped to the acting user: nothing here returns an object of a project the user is not in.

Outsiders get 404 (no existence leaks); members below the role an action needs get 403.
"""

import re
import uuid
from typing import Any

from django.db import connection
from django.db.models import Case, IntegerField, OuterRef, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from rest_framework.exceptions import NotFound, PermissionDenied

from accounts.models import User
from tickets.models import (
    PROJECT_KEY_PATTERN,
    ROLE_RANK,
    STATUS_RANK,
    Comment,
    Event,
    Image,
    Membership,
    Project,
    Role,
    Ticket,
)

TICKET_KEY = re.compile(r"^([A-Za-z][A-Za-z0-9]{1,9})-([1-9][0-9]{0,9})$")


def as_uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _role_of(user: User, project_column: str) -> Subquery:
    """The acting user's role in the project the row's `project_column` names (null for outsiders)."""
    return Subquery(Membership.objects.filter(project=OuterRef(project_column), user=user).values("role")[:1])


def require_role(role: str | None, minimum: Role, action: str) -> None:
    """403 unless `role` ranks at least `minimum`; callers have already hidden outsiders behind 404."""
    if role is None or ROLE_RANK[Role(role)] < ROLE_RANK[minimum]:
        raise PermissionDenied(f"Only project {minimum.value}s and above can {action}; you are a {role}.")


def project_list(*, user: User) -> QuerySet[Project]:
    """The projects `user` is a member of, each annotated with `my_role`."""
    return Project.objects.annotate(my_role=_role_of(user, "pk")).filter(my_role__isnull=False).order_by("key")


def project_lookup(reference: Any) -> dict[str, Any] | None:
    """A project is addressed by UUID or by key (any case); anything else can match nothing."""
    project_id = as_uuid(reference)
    if project_id is not None:
        return {"pk": project_id}
    if isinstance(reference, str) and re.match(PROJECT_KEY_PATTERN, reference.upper()):
        return {"key": reference.upper()}
    return None


def project_get(*, user: User, reference: Any, minimum_role: Role = Role.VIEWER, action: str = "") -> Project:
    lookup = project_lookup(reference)
    project = project_list(user=user).filter(**lookup).first() if lookup else None
    if project is None:
        raise NotFound("No such project.")
    if minimum_role is not Role.VIEWER:
        require_role(getattr(project, "my_role", None), minimum_role, action)
    return project


def member_list(*, project: Project) -> QuerySet[Membership]:
    return Membership.objects.filter(project=project).select_related("user").order_by("created_at", "id")


def member_get(*, project: Project, user_id: Any) -> Membership:
    user_uuid = as_uuid(user_id)
    membership = member_list(project=project).filter(user_id=user_uuid).first() if user_uuid else None
    if membership is None:
        raise NotFound("This user is not a member of the project.")
    return membership


def ticket_list(*, user: User) -> QuerySet[Ticket]:
    """Tickets of every project `user` is in, with what the API shows loaded in the same query."""
    my_projects = Membership.objects.filter(user=user).values("project_id")
    return (
        # No join on the project: the API shows its id only, and with stale statistics an unused join
        # made PostgreSQL sort every visible row (bench/, W1).
        Ticket.objects.filter(project_id__in=my_projects)
        .select_related("assignee", "reporter")
        .defer("search_vector")
        .annotate(
            status_rank=Case(
                *[When(status=status, then=Value(rank)) for status, rank in STATUS_RANK.items()],
                output_field=IntegerField(),
            )
        )
    )


def ticket_count(*, user: User, tickets: QuerySet[Ticket], filtered: bool) -> int:
    """How many `tickets` (a `ticket_list` of `user`, maybe filtered) there are.

    Unfiltered, that is every ticket of the user's projects: the sum of the projects' trigger-kept
    `ticket_count` (one row per project) instead of a COUNT(*) that reads every ticket (30-40 ms at
    100 000 tickets, most of the list's time). Any filter needs the real count, and so does SQLite,
    which has no triggers keeping `ticket_count` (migration 0004).
    """
    if filtered or connection.vendor != "postgresql":
        return tickets.count()
    my_projects = Membership.objects.filter(user=user).values("project_id")
    counted = Project.objects.filter(pk__in=my_projects).aggregate(total=Coalesce(Sum("ticket_count"), 0))
    return int(counted["total"])


def ticket_get(*, user: User, reference: Any, minimum_role: Role = Role.VIEWER, action: str = "") -> Ticket:
    """One ticket by UUID or key (`OPS-12`), annotated with the user's `my_role` in its project."""
    ticket_id = as_uuid(reference)
    if ticket_id is not None:
        lookup: dict[str, Any] = {"pk": ticket_id}
    elif isinstance(reference, str) and TICKET_KEY.match(reference):
        lookup = {"key": reference.upper()}
    else:
        raise NotFound("No such ticket.")
    ticket = (
        Ticket.objects.select_related("project", "assignee", "reporter")
        .defer("search_vector")
        .annotate(my_role=_role_of(user, "project_id"))
        .filter(**lookup, my_role__isnull=False)
        .first()
    )
    if ticket is None:
        raise NotFound("No such ticket.")
    if minimum_role is not Role.VIEWER:
        require_role(ticket.my_role, minimum_role, action)
    return ticket


def comment_list(*, ticket: Ticket) -> QuerySet[Comment]:
    return Comment.objects.filter(ticket=ticket).select_related("author").order_by("created_at", "id")


def comment_get(*, ticket: Ticket, comment_id: Any) -> Comment:
    return _one_of_ticket(comment_list(ticket=ticket), ticket, comment_id, "No such comment on this ticket.")


def image_list(*, ticket: Ticket) -> QuerySet[Image]:
    return Image.objects.filter(ticket=ticket).select_related("uploaded_by").order_by("created_at", "id")


def image_get(*, ticket: Ticket, image_id: Any) -> Image:
    return _one_of_ticket(image_list(ticket=ticket), ticket, image_id, "No such image on this ticket.")


def _one_of_ticket(rows: QuerySet[Any], ticket: Ticket, object_id: Any, missing: str) -> Any:
    """One row of an already access-checked ticket, by id; 404 for an unknown or malformed id."""
    object_uuid = as_uuid(object_id)
    found = rows.filter(pk=object_uuid).first() if object_uuid else None
    if found is None:
        raise NotFound(missing)
    found.ticket = ticket  # already loaded: spare the query
    return found


def ticket_history(*, ticket: Ticket) -> QuerySet[Event]:
    return Event.objects.filter(ticket=ticket.pk).select_related("actor").order_by("seq")
