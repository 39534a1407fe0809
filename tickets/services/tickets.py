"""Ticket writes: creation with a per-project key, workflow-checked updates, deletion."""

import datetime
import functools
import uuid
from collections.abc import Callable
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone
from rest_framework.exceptions import ErrorDetail, NotFound, ValidationError

from accounts.models import User
from hopla.api.conditional import check_if_match
from tickets.models import ROLE_RANK, EventType, Image, Membership, Priority, Role, Status, Ticket
from tickets.selectors import project_get, project_lookup
from tickets.serializers import TicketSerializer
from tickets.services.events import event_record, event_sequence_lock_sql, row_insert_sql
from tickets.services.images import images_destroy_after_commit
from tickets.workflow import check_transition


def _check_assignee(project_id: Any, assignee: User | None) -> None:
    if assignee is not None and not Membership.objects.filter(project_id=project_id, user=assignee).exists():
        raise ValidationError(
            {"assignee": [ErrorDetail("The assignee must be a member of the ticket's project.", code="not_a_member")]}
        )


_UUID_FIELD = models.UUIDField()  # only converts values: building one per call was 0.8 % of a creation's GIL time


def _db_uuid(value: Any) -> Any:
    """A UUID as the database takes it in raw SQL (SQLite stores UUIDs as hex text)."""
    return _UUID_FIELD.get_db_prep_value(value, connection)


# Who may create tickets: members and above, as `selectors.require_role` ranks them (an SQL list).
_CREATOR_ROLES = ", ".join(f"'{role.value}'" for role, rank in ROLE_RANK.items() if rank >= ROLE_RANK[Role.MEMBER])


def _claim_ticket_number(*, actor: User, project_reference: str) -> tuple[Any, str, int]:
    """Bump the counter of a project `actor` may create tickets in; answers (project id, key, number).

    One statement finds the project, checks the role, takes the row lock and the event numbering lock.
    The UPDATE's row lock is FOR NO KEY UPDATE (it changes no key column), because rows that point at
    the project (events, comments' tickets) take a KEY SHARE lock on it while they are inserted: a full
    FOR UPDATE here would wait on them while they wait on event numbering - a deadlock. For the same
    reason the numbering lock comes second, in RETURNING, evaluated once the row is locked. Concurrent
    creations in one project queue on the row: each gets the next number.
    When no row matches, the selector tells apart why: no such project among the user's (404) or
    a role below member (403).
    """
    lookup = project_lookup(project_reference)
    if lookup is not None:
        ((field_name, value),) = lookup.items()
        column = "id" if field_name == "pk" else "key"  # project_lookup's two ways to name a project
        sequence_lock = event_sequence_lock_sql() if connection.vendor == "postgresql" else "NULL"
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE tickets_project SET last_ticket_number = last_ticket_number + 1 FROM tickets_membership"
                f" WHERE tickets_project.{column} = %s AND tickets_membership.project_id = tickets_project.id"
                f" AND tickets_membership.user_id = %s AND tickets_membership.role IN ({_CREATOR_ROLES})"
                " RETURNING tickets_project.id, tickets_project.key, tickets_project.last_ticket_number,"
                f" {sequence_lock}",
                [_db_uuid(value) if column == "id" else value, _db_uuid(actor.pk)],
            )
            claimed = cursor.fetchone()
        if claimed is not None:
            project_id, key, last_number, _ = claimed
            return uuid.UUID(str(project_id)), key, last_number
    project_get(user=actor, reference=project_reference, minimum_role=Role.MEMBER, action="create tickets")
    raise NotFound("No such project.")  # the role changed meanwhile: as if the project were not the user's


def _ticket_data(ticket: Ticket) -> dict[str, Any]:
    return dict(TicketSerializer(ticket).data)


# What the claim fills in, by the representation's names.
_CLAIMED_FIELDS = ("project", "key", "created_at", "updated_at")


@functools.cache
def _claimed_field_steps() -> list[tuple[str, str, Callable[[Any], Any]]]:
    """(name, attribute, renderer) of the claimed fields: they render as _ticket_data renders them."""
    return [step for step in TicketSerializer._representation_steps() if step[0] in _CLAIMED_FIELDS]


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
    render it again. Raises NotFound for a project the actor cannot see and PermissionDenied for a viewer.
    """
    # Everything that does not depend on the claim is built and rendered before it: from the claim to
    # COMMIT, every other creation in the project (and every event writer) waits, and a thread of a
    # busy process may wait for the GIL as well. Only the project, number, key and timestamps are filled
    # in under the locks, rendered by the same fields (bench/, W3).
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
    data = _ticket_data(ticket)
    project_id, project_key, number = _claim_ticket_number(actor=actor, project_reference=project_reference)
    _check_assignee(project_id, assignee)
    ticket.project_id, ticket.number, ticket.key = project_id, number, f"{project_key}-{number}"
    ticket.created_at = ticket.updated_at = timezone.now()  # after the claim: in the order of the numbers
    for name, attribute, render in _claimed_field_steps():
        data[name] = render(getattr(ticket, attribute))
    if connection.vendor == "postgresql":
        # The ticket's INSERT rides in the event's statement: one round trip under the locks.
        event_record(
            type=EventType.TICKET_CREATED,
            project_id=project_id,
            ticket_id=ticket.pk,
            actor=actor,
            data=data,
            sequence_locked=True,
            inserted_with=ticket,
        )
    else:  # SQLite has no INSERT in WITH
        sql, values = row_insert_sql(ticket)
        with connection.cursor() as cursor:
            cursor.execute(sql, values)
        ticket._state.adding = False
        event_record(type=EventType.TICKET_CREATED, project_id=project_id, ticket_id=ticket.pk, actor=actor, data=data)
    return ticket, data


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
