"""Ticket writes: creation with a per-project key, workflow-checked updates, deletion."""

import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from hopla.api.conditional import require_version
from hopla.api.exceptions import InvalidField, ObjectNotFound
from tickets.models import EventType, Image, Membership, Priority, Role, Status, Ticket
from tickets.selectors import project_get, project_lookup
from tickets.serializers import TicketSerializer
from tickets.services.event_publishing import event_publish_on_commit
from tickets.services.event_writing import event_new, event_record
from tickets.services.images import images_destroy_after_commit
from tickets.services.ticket_insert import ticket_insert_in_one_statement, ticket_insert_in_steps
from tickets.services.watchers import watchers_add
from tickets.workflow import check_transition


def _check_assignee(project_id: Any, assignee: User | None) -> None:
    if assignee is not None and not Membership.objects.filter(project_id=project_id, user=assignee).exists():
        raise InvalidField("assignee", ("The assignee must be a member of the ticket's project.", "not_a_member"))


def _ticket_data(ticket: Ticket) -> dict[str, Any]:
    return dict(TicketSerializer(ticket).data)


def _refusal(actor: User, project_reference: str, assignee: User | None) -> Exception:
    """Why a creation's claim matched no row: no such project among the actor's (404), a role below
    member (403), an assignee from outside the project (400); else the role changed meanwhile (404)."""
    project = project_get(user=actor, reference=project_reference, minimum_role=Role.MEMBER, action="create tickets")
    _check_assignee(project.pk, assignee)
    return ObjectNotFound("No such project.")


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
    render it again. Raises ObjectNotFound for a project the actor cannot see, ActionForbidden for a
    viewer, InvalidField for an assignee who is not a member.

    The checks ride on the write: the statement that numbers the ticket matches no row unless the
    actor may create tickets there and the assignee is a member, so a creation that succeeds runs
    no query of its own to check them (one statement on PostgreSQL, see ticket_insert). The
    created_at stamp is taken before that statement, so under concurrency two tickets' stamps may be
    microseconds out of their numbers' order.
    """
    # 1. The project reference: an id or a key, or something that can name no project.
    project = project_lookup(project_reference)
    if project is None:
        raise _refusal(actor, project_reference, assignee)

    # 2. The row and its representation, rendered once for the answer and the event; the claim
    #    fills in the project, key and number.
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
    ticket.created_at = ticket.updated_at = timezone.now()
    data = _ticket_data(ticket)
    event = event_new(type=EventType.TICKET_CREATED, project_id=None, ticket_id=ticket.pk, actor=actor, data=data)

    # 3. Claim the number, write the ticket and its event.
    insert = ticket_insert_in_one_statement if connection.vendor == "postgresql" else ticket_insert_in_steps
    if not insert(ticket=ticket, data=data, event=event, project=project):
        # 4. Refused, with nothing written: say why.
        raise _refusal(actor, project_reference, assignee)

    # 5. Dashboards hear of it once it is committed (at once outside a transaction).
    event_publish_on_commit(event)
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


def ticket_changes_apply(ticket: Ticket, data: dict[str, Any]) -> dict[str, list[Any]]:
    """Set `data`'s fields on the (locked) ticket and answer what changed, `{field: [old, new]}` as an
    event shows it; a status move outside the workflow raises StateConflict (`invalid_transition`).
    Closing stamps `closed_at`, reopening clears it. The caller bumps `version` and saves."""
    changes: dict[str, list[Any]] = {}
    for field, new in data.items():
        old = getattr(ticket, field)
        if old != new:
            changes[field] = [_change_value(field, old), _change_value(field, new)]
            setattr(ticket, field, new)
    if "status" in changes:
        check_transition(changes["status"][0], changes["status"][1])
        closed_at = timezone.now() if ticket.status == Status.CLOSED else None
        if closed_at != ticket.closed_at:
            changes["closed_at"] = [_change_value("closed_at", ticket.closed_at), _change_value("closed_at", closed_at)]
            ticket.closed_at = closed_at
    return changes


@transaction.atomic
def ticket_update(
    *, ticket: Ticket, actor: User, data: dict[str, Any], expected_version: int | None = None
) -> tuple[Ticket, dict[str, Any]]:
    """Apply the changed fields, bump `version` and record `changes: {field: [old, new]}`; answers the
    ticket and its API representation (the one its event carries).

    The row is locked before it is compared with `expected_version` (None: any), so two writers
    expecting the same version cannot both win.
    """
    # With the users the answer shows, so nothing is fetched again to render it (the lock is the ticket's).
    locked = (
        Ticket.objects.select_for_update(no_key=True, of=("self",))
        .select_related("assignee", "reporter")
        .defer("search_vector")
        .get(pk=ticket.pk)
    )
    require_version(expected_version, locked.version)
    if "title" in data:
        data["title"] = data["title"].strip()
    if "assignee" in data:
        _check_assignee(ticket.project_id, data["assignee"])

    changes = ticket_changes_apply(locked, data)
    if not changes:
        return ticket, _ticket_data(ticket)

    locked.version += 1
    locked.save(update_fields=[*changes, "version", "updated_at"])
    # A new assignee watches the ticket from now on (SPEC §11); what the reader's answer says of the
    # watchers (`ticket_get`'s annotations) follows.
    added = (
        watchers_add(ticket_id=locked.pk, user_ids=[locked.assignee_id])
        if locked.assignee_id and "assignee" in changes
        else []
    )
    locked.is_watching = getattr(ticket, "is_watching", False) or actor.pk in added  # type: ignore[attr-defined]
    locked.watcher_count = getattr(ticket, "watcher_count", 0) + len(added)  # type: ignore[attr-defined]
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
def ticket_delete(*, ticket: Ticket, actor: User, expected_version: int | None = None) -> None:
    """Delete the ticket (its comments and history go with it; its stored images after commit)."""
    locked = Ticket.objects.select_for_update(no_key=True).defer("search_vector").get(pk=ticket.pk)
    require_version(expected_version, locked.version)
    data = _ticket_data(ticket)
    image_ids = list(Image.objects.filter(ticket_id=locked.pk).values_list("pk", flat=True))
    locked.delete()
    images_destroy_after_commit(image_ids)
    event_record(
        type=EventType.TICKET_DELETED, project_id=ticket.project_id, ticket_id=ticket.pk, actor=actor, data=data
    )
