"""Ticket writes: creation with a per-project key, workflow-checked updates, deletion."""

import datetime
import functools
import uuid
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from rest_framework.exceptions import ErrorDetail, NotFound, ValidationError

from accounts.models import User
from hopla.api.conditional import check_if_match
from hopla.sql import db_uuid, row_insert_sql
from tickets.models import ROLE_RANK, EventType, Image, Membership, Priority, Role, Status, Ticket
from tickets.selectors import project_get, project_lookup
from tickets.serializers import TicketSerializer
from tickets.services.event_publishing import event_publish_on_commit
from tickets.services.event_writing import event_insert, event_new, event_record
from tickets.services.images import images_destroy_after_commit
from tickets.workflow import check_transition


def _check_assignee(project_id: Any, assignee: User | None) -> None:
    if assignee is not None and not Membership.objects.filter(project_id=project_id, user=assignee).exists():
        raise ValidationError(
            {"assignee": [ErrorDetail("The assignee must be a member of the ticket's project.", code="not_a_member")]}
        )


# Who may create tickets: members and above, as `selectors.require_role` ranks them (an SQL list).
_CREATOR_ROLES = ", ".join(f"'{role.value}'" for role, rank in ROLE_RANK.items() if rank >= ROLE_RANK[Role.MEMBER])


def _claim_sql(column: str) -> str:
    """Bump the counter of a project the actor may create tickets in, and of which the assignee (if
    any) is a member; RETURNING its id, the new ticket's key and number. Params: the project's id or
    key (`column`), the actor's id, the assignee's id twice (or NULL).

    Its row lock is FOR NO KEY UPDATE (it changes no key column), because rows that point at the
    project (events, comments' tickets) take a KEY SHARE lock on it while they are inserted: a full
    FOR UPDATE here would wait on them while they wait on the event counter, a deadlock. Concurrent
    creations in one project queue on the row: each gets the next number.
    """
    return (
        "UPDATE tickets_project SET last_ticket_number = last_ticket_number + 1 FROM tickets_membership"
        f" WHERE tickets_project.{column} = %s AND tickets_membership.project_id = tickets_project.id"
        f" AND tickets_membership.user_id = %s AND tickets_membership.role IN ({_CREATOR_ROLES})"
        " AND (%s IS NULL OR EXISTS (SELECT 1 FROM tickets_membership AS assignee_membership"
        " WHERE assignee_membership.project_id = tickets_project.id AND assignee_membership.user_id = %s))"
        " RETURNING tickets_project.id, tickets_project.key || '-' || tickets_project.last_ticket_number AS key,"
        " tickets_project.last_ticket_number AS number"
    )


def _claim_values(value: Any, column: str, actor: User, assignee: User | None) -> list[Any]:
    assignee_id = None if assignee is None else db_uuid(assignee.pk)
    return [db_uuid(value) if column == "id" else value, db_uuid(actor.pk), assignee_id, assignee_id]


def _refusal(actor: User, project_reference: str, assignee: User | None) -> Exception:
    """Why a claim matched no row: no such project among the actor's (404), a role below member (403),
    an assignee from outside the project (400); else the role changed meanwhile (404)."""
    project = project_get(user=actor, reference=project_reference, minimum_role=Role.MEMBER, action="create tickets")
    _check_assignee(project.pk, assignee)
    return NotFound("No such project.")


def _ticket_data(ticket: Ticket) -> dict[str, Any]:
    return dict(TicketSerializer(ticket).data)


# What the claim fills in, by the representation's names.
_CLAIMED_FIELDS = ("project", "key", "created_at", "updated_at")


@functools.cache
def _claimed_field_steps() -> list[tuple[str, str, Callable[[Any], Any]]]:
    """(name, attribute, renderer) of the claimed fields: they render as _ticket_data renders them."""
    return [step for step in TicketSerializer._representation_steps() if step[0] in _CLAIMED_FIELDS]


def _fill_claimed(ticket: Ticket, data: dict[str, Any], project_id: Any, key: str, number: int) -> None:
    ticket.project_id, ticket.key, ticket.number = project_id, key, number
    for name, attribute, render in _claimed_field_steps():
        data[name] = render(getattr(ticket, attribute))


def ticket_create(
    *,
    project_reference: str,
    actor: User,
    title: str,
    description: str = "",
    priority: int = Priority.MEDIUM,
    labels: list[str] | None = None,
    assignee: User | None = None,
    due_date: datetime.date | None = None,
) -> tuple[Ticket, dict[str, Any]]:
    """Create a ticket in the project `project_reference` names (id or key); actor must be a member.

    Answers the ticket and its API representation, the one its event carries: the caller need not
    render it again. Raises NotFound for a project the actor cannot see, PermissionDenied for a
    viewer, ValidationError for an assignee who is not a member.

    On PostgreSQL one statement does it all: checks the roles, numbers the ticket, inserts it, numbers
    and inserts its event. Outside a transaction it commits by itself, so the project row and the
    event counter are locked for that statement's time only: no Python runs, and no thread waits for
    the GIL, while other creations queue on them (bench/, W3). Everything else is built and rendered
    before; the created_at stamp is taken just before the statement, so under concurrency two
    tickets' stamps may be microseconds out of their numbers' order.
    """
    ticket = Ticket(
        number=0,
        title=title.strip(),
        description=description,
        priority=priority,
        labels=labels or [],
        assignee=assignee,
        reporter=actor,
        due_date=due_date,
    )
    lookup = project_lookup(project_reference)
    if lookup is None:
        raise _refusal(actor, project_reference, assignee)
    ((field_name, value),) = lookup.items()
    column = "id" if field_name == "pk" else "key"  # project_lookup's two ways to name a project
    if connection.vendor != "postgresql":
        return _ticket_create_in_steps(ticket, actor, project_reference, column, value)
    ticket.created_at = ticket.updated_at = timezone.now()
    data = _ticket_data(ticket)  # its project and key: see column_sql and _fill_claimed below
    event = event_new(type=EventType.TICKET_CREATED, project_id=None, ticket_id=ticket.pk, actor=actor, data=data)
    ticket_sql, ticket_values = row_insert_sql(
        ticket,
        source="claimed",
        column_sql={"project_id": "claimed.id", "key": "claimed.key", "number": "claimed.number"},
    )
    returned = event_insert(
        event,
        ctes=f"claimed AS ({_claim_sql(column)}), inserted AS ({ticket_sql} RETURNING 1)",
        cte_values=[*_claim_values(value, column, actor, assignee), *ticket_values],
        after="claimed, inserted",
        # The statement fills in the event's project and the claimed fields of its data; _fill_claimed
        # renders the same ones in Python for the answer (tests compare the two).
        column_sql={
            "project_id": "claimed.id",
            "data": "%s::jsonb || jsonb_build_object('project', claimed.id, 'key', claimed.key)",
        },
        returning=", project_id, (SELECT key FROM claimed), (SELECT number FROM claimed)",
    )
    if returned is None:  # the claim matched no row
        raise _refusal(actor, project_reference, assignee)
    _, project_id, key, number = returned
    _fill_claimed(ticket, data, project_id, key, number)
    event.project_id = project_id
    ticket._state.adding = False
    ticket._state.db = event._state.db
    event_publish_on_commit(event)
    return ticket, data


@transaction.atomic
def _ticket_create_in_steps(
    ticket: Ticket, actor: User, project_reference: str, column: str, value: Any
) -> tuple[Ticket, dict[str, Any]]:
    """SQLite (the embedded default) has no data-modifying WITH: claim, INSERT and event, one by one,
    in a transaction (SQLite runs one write transaction at a time)."""
    data = _ticket_data(ticket)
    with connection.cursor() as cursor:
        cursor.execute(_claim_sql(column), _claim_values(value, column, actor, ticket.assignee))
        claimed = cursor.fetchone()
        if claimed is None:
            raise _refusal(actor, project_reference, ticket.assignee)
        project_id, key, number = claimed
        ticket.created_at = ticket.updated_at = timezone.now()
        _fill_claimed(ticket, data, uuid.UUID(str(project_id)), key, number)
        sql, values = row_insert_sql(ticket)
        cursor.execute(sql, values)
    ticket._state.adding = False
    event_record(
        type=EventType.TICKET_CREATED, project_id=ticket.project_id, ticket_id=ticket.pk, actor=actor, data=data
    )
    return ticket, data


def _change_value(field: str, value: Any) -> Any:
    """How a field's old and new values appear in an event's `changes`: as the API shows them."""
    if isinstance(value, User):
        return str(value.pk)
    if field == "priority" and value is not None:
        return Priority(value).label
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return value


@transaction.atomic
def ticket_update(
    *, ticket: Ticket, actor: User, data: dict[str, Any], if_match: str | None = None
) -> tuple[Ticket, dict[str, Any]]:
    """Apply the changed fields, bump `version` and record `changes: {field: [old, new]}`; answers the
    ticket and its API representation (the one its event carries).

    The row is locked before the version check, so two writers holding the same ETag cannot both win.
    """
    # With the users the answer shows, so nothing is fetched again to render it (the lock is the ticket's).
    locked = (
        Ticket.objects.select_for_update(no_key=True, of=("self",))
        .select_related("assignee", "reporter")
        .defer("search_vector")
        .get(pk=ticket.pk)
    )
    check_if_match(if_match, locked.version)
    if "title" in data:
        data["title"] = data["title"].strip()
    if "assignee" in data:
        _check_assignee(ticket.project_id, data["assignee"])

    changes: dict[str, list[Any]] = {}
    for field, new in data.items():
        old = getattr(locked, field)
        if old != new:
            changes[field] = [_change_value(field, old), _change_value(field, new)]
            setattr(locked, field, new)
    if "status" in changes:
        check_transition(changes["status"][0], changes["status"][1])
        closed_at = timezone.now() if locked.status == Status.CLOSED else None
        if closed_at != locked.closed_at:
            changes["closed_at"] = [_change_value("closed_at", locked.closed_at), _change_value("closed_at", closed_at)]
            locked.closed_at = closed_at
    if not changes:
        return ticket, _ticket_data(ticket)

    locked.version += 1
    locked.save(update_fields=[*changes, "version", "updated_at"])
    rendered = _ticket_data(locked)
    event_record(
        type=EventType.TICKET_UPDATED,
        project_id=locked.project_id,
        ticket_id=locked.pk,
        actor=actor,
        changes=changes,
        data=rendered,
    )
    return locked, rendered


@transaction.atomic
def ticket_delete(*, ticket: Ticket, actor: User, if_match: str | None = None) -> None:
    locked = Ticket.objects.select_for_update(no_key=True).defer("search_vector").get(pk=ticket.pk)
    check_if_match(if_match, locked.version)
    data = _ticket_data(ticket)
    image_ids = list(Image.objects.filter(ticket_id=locked.pk).values_list("pk", flat=True))
    locked.delete()
    images_destroy_after_commit(image_ids)
    event_record(
        type=EventType.TICKET_DELETED, project_id=ticket.project_id, ticket_id=ticket.pk, actor=actor, data=data
    )
