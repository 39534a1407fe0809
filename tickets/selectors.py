"""Reads scoped to the acting user: nothing here returns an object of a project the user is not in.

Outsiders get 404 (no existence leaks); members below the role an action needs get 403.
"""

import re
import uuid
from typing import Any

from django.db import connection
from django.db.models import BooleanField, Case, Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.expressions import RawSQL
from django.utils import timezone

from accounts.models import User
from hopla.api.exceptions import ActionForbidden, ObjectNotFound
from tickets.models import (
    PROJECT_KEY_PATTERN,
    ROLE_RANK,
    STATUS_RANK,
    Comment,
    Event,
    Image,
    Invitation,
    Membership,
    Project,
    Role,
    Ticket,
    TicketImport,
    Watcher,
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
        raise ActionForbidden(f"Only project {minimum.value}s and above can {action}; you are a {role}.")


def require_owner_or_admin(*, user: User, owner_id: Any, scope: Project | Ticket, action: str) -> None:
    """Anyone may `action` what they own (their comment, image or membership); only the project's
    admins may do it to someone else's: 403 for others. `scope` is the project or ticket as
    `project_get` / `ticket_get` answered it, with the user's `my_role`."""
    if owner_id != user.pk:
        require_role(getattr(scope, "my_role", None), Role.ADMIN, action)


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
        raise ObjectNotFound("No such project.")
    if minimum_role is not Role.VIEWER:
        require_role(getattr(project, "my_role", None), minimum_role, action)
    return project


def member_list(*, project: Project) -> QuerySet[Membership]:
    return Membership.objects.filter(project=project).select_related("user").order_by("created_at", "id")


def member_get(*, project: Project, user_id: Any) -> Membership:
    user_uuid = as_uuid(user_id)
    membership = member_list(project=project).filter(user_id=user_uuid).first() if user_uuid else None
    if membership is None:
        raise ObjectNotFound("This user is not a member of the project.")
    return membership


def invitation_list(*, project: Project) -> QuerySet[Invitation]:
    """The project's pending invitations (neither accepted, revoked nor expired), oldest first; expired
    by the application's clock, as `Invitation.status_at` judges a link."""
    return (
        Invitation.objects.filter(
            project=project, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )
        .select_related("invited_by")
        .order_by("created_at", "id")
    )


def invitation_get(*, project: Project, invitation_id: Any) -> Invitation:
    """One pending invitation of `project` (whose access the caller checked); 404 for any other id."""
    invitation_uuid = as_uuid(invitation_id)
    found = invitation_list(project=project).filter(pk=invitation_uuid).first() if invitation_uuid else None
    if found is None:
        raise ObjectNotFound("No such pending invitation in this project.")
    return found


# The columns a list shows: every ticket column but the search index, and of the assignee and reporter
# only what the API shows of a user (UserSummarySerializer). Each column costs the ORM compiling,
# converting and setting it on a model instance; the users' other six were a third of the page's columns.
LIST_USER_FIELDS = ("id", "email", "full_name")
_LIST_COLUMNS = [field.name for field in Ticket._meta.concrete_fields if field.name != "search_vector"] + [
    f"{user}__{field}" for user in ("assignee", "reporter") for field in LIST_USER_FIELDS
]


# What a ticket's answer says of its watchers (SPEC §11), as subqueries of the statement that reads
# the tickets, so a page costs the same number of queries: the count (served by the unique
# (ticket, user) index) and whether the reader watches. Written as SQL once, like _MY_PROJECTS below:
# the list's Python per request is what bench/ W1 watches.
_WATCHER_COUNT_SQL = "SELECT COUNT(*) FROM {table} WHERE {table}.{ticket} = {tickets}.{id}".format(
    table=connection.ops.quote_name(Watcher._meta.db_table),
    ticket=connection.ops.quote_name(Watcher._meta.get_field("ticket").column),
    tickets=connection.ops.quote_name(Ticket._meta.db_table),
    id=connection.ops.quote_name(str(Ticket._meta.pk.column)),
)
_IS_WATCHING_SQL = (
    "EXISTS(SELECT 1 FROM {table} WHERE {table}.{ticket} = {tickets}.{id} AND {table}.{user} = %s)".format(
        table=connection.ops.quote_name(Watcher._meta.db_table),
        ticket=connection.ops.quote_name(Watcher._meta.get_field("ticket").column),
        user=connection.ops.quote_name(Watcher._meta.get_field("user").column),
        tickets=connection.ops.quote_name(Ticket._meta.db_table),
        id=connection.ops.quote_name(str(Ticket._meta.pk.column)),
    )
)


def _user_db_id(user: User) -> Any:
    return Membership._meta.get_field("user").get_db_prep_value(user.pk, connection)  # hex on SQLite


def _with_watching(tickets: QuerySet[Ticket], user: User) -> QuerySet[Ticket]:
    """`is_watching` (the reader) and `watcher_count` on each ticket, in the same statement."""
    return tickets.annotate(
        is_watching=RawSQL(_IS_WATCHING_SQL, [_user_db_id(user)], output_field=BooleanField()),
        watcher_count=RawSQL(_WATCHER_COUNT_SQL, [], output_field=IntegerField()),
    )


def tickets_watching(*, ticket_ids: list[Any], user: User) -> dict[Any, dict[str, Any]]:
    """`is_watching` and `watcher_count` of already access-checked tickets, for answers built without
    the ticket's read (a bulk change's): one statement whatever their number."""
    counts = {ticket_id: {"is_watching": False, "watcher_count": 0} for ticket_id in ticket_ids}
    rows = (
        Watcher.objects.filter(ticket_id__in=ticket_ids)
        .values("ticket_id")
        .annotate(count=Count("id"), mine=Count("id", filter=Q(user=user)))
        .order_by()
    )
    for row in rows:
        counts[row["ticket_id"]] = {"is_watching": row["mine"] > 0, "watcher_count": row["count"]}
    return counts


def _visible_tickets() -> QuerySet[Ticket]:
    # No join on the project: the API shows its id only, and with stale statistics an unused join
    # made PostgreSQL sort every visible row (bench/, W1). `status_rank` is an alias, not an
    # annotation: only `ordering=status` puts it in the statement (in ORDER BY).
    return (
        Ticket.objects.select_related("assignee", "reporter")
        .only(*_LIST_COLUMNS)
        .alias(
            status_rank=Case(
                *[When(status=status, then=Value(rank)) for status, rank in STATUS_RANK.items()],
                output_field=IntegerField(),
            )
        )
    )


# What every ticket list shares, built once: select_related, the column list and the CASE cost about
# 0.3 ms of Python per request when built each time (BENCHMARKS.md). Only ever chained from, never run.
_VISIBLE_TICKETS = _visible_tickets()


# `project_id IN (the user's projects)`, the SQL the ORM writes for
# `project_id__in=Membership.objects.filter(user=user).values("project_id")`. Written once: resolving
# that queryset as a subquery (cloning it, renaming its aliases) cost 0.3 ms of each list request's
# 6 ms of Python (`python -m bench.profile`), the same statement every time.
_MY_PROJECTS = "SELECT {project} FROM {table} WHERE {user} = %s".format(
    project=connection.ops.quote_name(Membership._meta.get_field("project").column),
    table=connection.ops.quote_name(Membership._meta.db_table),
    user=connection.ops.quote_name(Membership._meta.get_field("user").column),
)


# Project ids a caller has already read for the reader (tickets.list_etag reads them for the list).
ProjectIds = list[uuid.UUID]


def _in_projects(user: User, project_ids: ProjectIds | None) -> dict[str, Any]:
    """The filter that keeps a list to the reader's projects: `project_ids` when the caller has read
    them (the list's ETag statement does), else the subquery of the user's memberships.

    Named as constants, PostgreSQL plans with the projects' real share of the table: as the subquery
    it guessed a reader has one or two projects and, for a reader of 20, repeated the ticket scan once
    per project (the search's GIN scan 20 times); as `= ANY(ARRAY(subquery))` it guessed half the
    table for everyone and chose sequential scans for a reader of one (BENCHMARKS.md, "W2 at 1 000 000
    tickets, again").
    """
    if project_ids is not None:
        return {"project_id__in": project_ids}
    return {"project_id__in": RawSQL(_MY_PROJECTS, [_user_db_id(user)])}


def ticket_list(*, user: User, project_ids: ProjectIds | None = None) -> QuerySet[Ticket]:
    """Tickets of every project `user` is in (`project_ids`, if the caller has read them), with what
    the API shows loaded in the same query."""
    return _with_watching(_VISIBLE_TICKETS.filter(**_in_projects(user, project_ids)), user)


# What ticket_list_rows reads of a ticket: its columns (the search index aside) and the joined users'
# summaries (LEFT OUTER JOINs, as select_related joins the nullable foreign keys); the reader's
# fields (is_watching, watcher_count) come as annotations, after.
LIST_ROW_VALUES = (
    *(field.attname for field in Ticket._meta.concrete_fields if field.name != "search_vector"),
    *(f"{user}__{field}" for user in ("assignee", "reporter") for field in LIST_USER_FIELDS),
)
# Resolving those 27 names into columns and joins (Query.set_values) was 0.55 ms of each list request's
# Python (`python -m bench.profile`, BENCHMARKS.md "Performance II"): done once, chained from, never run.
_VISIBLE_TICKET_ROWS = _VISIBLE_TICKETS.values(*LIST_ROW_VALUES)


def ticket_list_rows(*, user: User, project_ids: ProjectIds | None = None) -> QuerySet[Any]:
    """ticket_list as dicts of LIST_ROW_VALUES plus `is_watching` and `watcher_count`, for answers
    built without model instances (tickets.list_rows)."""
    return _with_watching(_VISIBLE_TICKET_ROWS.filter(**_in_projects(user, project_ids)), user)  # type: ignore[arg-type]


# SUM(ticket_count) over the user's projects: the SQL the ORM writes for
# `Project.objects.filter(pk__in=Membership.objects.filter(user=user).values("project_id"))
# .aggregate(total=Coalesce(Sum("ticket_count"), 0))` (parameters: 0, the user's id), written once: building
# and compiling that query took ten times the Python of sending this string (BENCHMARKS.md, "Contain").
# hopla/tests/test_sql_constants.py fails when the ORM would write anything else.
_TICKET_TOTAL = (
    'SELECT COALESCE(SUM("tickets_project"."ticket_count"), %s) AS "total" FROM "tickets_project" '
    'WHERE "tickets_project"."id" IN '
    '(SELECT U0."project_id" AS "project_id" FROM "tickets_membership" U0 WHERE U0."user_id" = %s)'
)


def ticket_count(*, user: User, tickets: QuerySet[Ticket], filtered: bool) -> int:
    """How many `tickets` (a `ticket_list` of `user` or its `ticket_list_rows`, maybe filtered) there are.

    Unfiltered, that is every ticket of the user's projects: the sum of the projects' trigger-kept
    `ticket_count` (one row per project) instead of a COUNT(*) that reads every ticket (30-40 ms at
    100 000 tickets, most of the list's time). Any filter needs the real count, and so does SQLite,
    which has no triggers keeping `ticket_count` (migration 0004). The sum's statement never changes
    but for the user, so it is written once (`_TICKET_TOTAL`).
    """
    if filtered or connection.vendor != "postgresql":
        return tickets.count()
    with connection.cursor() as cursor:
        cursor.execute(_TICKET_TOTAL, [0, user.pk])
        (total,) = cursor.fetchone()
    return int(total)


def ticket_get(*, user: User, reference: Any, minimum_role: Role = Role.VIEWER, action: str = "") -> Ticket:
    """One ticket by UUID or key (`OPS-12`), annotated with the user's `my_role` in its project."""
    ticket_id = as_uuid(reference)
    if ticket_id is not None:
        lookup: dict[str, Any] = {"pk": ticket_id}
    elif isinstance(reference, str) and TICKET_KEY.match(reference):
        lookup = {"key": reference.upper()}
    else:
        raise ObjectNotFound("No such ticket.")
    tickets = (
        Ticket.objects.select_related("project", "assignee", "reporter")
        .defer("search_vector")
        .annotate(my_role=_role_of(user, "project_id"))
        .filter(**lookup, my_role__isnull=False)
    )
    ticket = _with_watching(tickets, user).first()
    if ticket is None:
        raise ObjectNotFound("No such ticket.")
    if minimum_role is not Role.VIEWER:
        require_role(ticket.my_role, minimum_role, action)  # type: ignore[attr-defined]
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
        raise ObjectNotFound(missing)
    found.ticket = ticket  # already loaded: spare the query
    return found


def watcher_list(*, ticket: Ticket) -> QuerySet[User]:
    """The users watching an already access-checked ticket, in the order they started."""
    return User.objects.filter(watching__ticket=ticket).order_by("watching__created_at", "watching__id")


def ticket_history(*, ticket: Ticket) -> QuerySet[Event]:
    return Event.objects.filter(ticket=ticket.pk).select_related("actor").order_by("seq")


def tickets_lock_for_bulk(*, user: User, references: list[str]) -> dict[str, Ticket]:
    """The tickets that `references` (ids or keys, `OPS-12`) name in the user's projects, locked for an
    update in one statement (rows taken in id order, as every bulk change takes them, so two bulk
    changes cannot deadlock), by each reference that names one; `my_role` is the user's role there.
    References naming nothing the user may see are simply absent."""
    ids = {reference: ticket_id for reference in references if (ticket_id := as_uuid(reference)) is not None}
    keys = {
        reference: reference.upper() for reference in references if reference not in ids and TICKET_KEY.match(reference)
    }
    if not ids and not keys:
        return {}
    tickets = list(
        Ticket.objects.select_for_update(no_key=True, of=("self",))
        .select_related("assignee", "reporter")
        .defer("search_vector")
        .annotate(my_role=_role_of(user, "project_id"))
        .filter(Q(pk__in=ids.values()) | Q(key__in=keys.values()), my_role__isnull=False)
        .order_by("pk")
    )
    by_id = {ticket.pk: ticket for ticket in tickets}
    by_key = {ticket.key: ticket for ticket in tickets}
    found = {reference: by_id.get(ticket_id) for reference, ticket_id in ids.items()}
    found.update({reference: by_key.get(key) for reference, key in keys.items()})
    return {reference: ticket for reference, ticket in found.items() if ticket is not None}


def import_get(*, project: Project, import_id: Any) -> TicketImport:
    """One import of `project` (whose access the caller checked); 404 for any other id."""
    import_uuid = as_uuid(import_id)
    found = None
    if import_uuid is not None:
        found = TicketImport.objects.filter(project=project, pk=import_uuid).defer("source").first()
    if found is None:
        raise ObjectNotFound("No such import.")
    return found
