"""Ticket writes: creation with a per-project key, workflow-checked updates, deletion."""

import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ErrorDetail, ValidationError

from accounts.models import User
from hopla.api.conditional import check_if_match
from tickets.models import EventType, Membership, Priority, Project, Status, Ticket
from tickets.serializers import TicketSerializer
from tickets.services.events import event_record
from tickets.workflow import check_transition


def _check_assignee(project: Project, assignee: User | None) -> None:
    if assignee is not None and not Membership.objects.filter(project=project, user=assignee).exists():
        raise ValidationError(
            {"assignee": [ErrorDetail("The assignee must be a member of the ticket's project.", code="not_a_member")]}
        )


def _ticket_data(ticket: Ticket) -> dict[str, Any]:
    return dict(TicketSerializer(ticket).data)


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
    project: Project,
    actor: User,
    title: str,
    description: str = "",
    priority: int = Priority.MEDIUM,
    labels: list[str] | None = None,
    assignee: User | None = None,
    due_date: datetime.date | None = None,
) -> Ticket:
    _check_assignee(project, assignee)
    # The row lock makes concurrent creations in one project queue up: each gets the next number.
    # NO KEY UPDATE, because rows that point at the project (events, comments' tickets) take a KEY
    # SHARE lock on it while they are inserted: a full FOR UPDATE here would wait on them while they
    # wait on event numbering, which this transaction takes next - a deadlock.
    locked = Project.objects.select_for_update(no_key=True).only("pk", "key", "last_ticket_number").get(pk=project.pk)
    locked.last_ticket_number += 1
    locked.save(update_fields=["last_ticket_number"])
    ticket = Ticket.objects.create(
        project=project,
        number=locked.last_ticket_number,
        key=f"{locked.key}-{locked.last_ticket_number}",
        title=title.strip(),
        description=description,
        priority=priority,
        labels=labels or [],
        assignee=assignee,
        reporter=actor,
        due_date=due_date,
    )
    event_record(
        type=EventType.TICKET_CREATED,
        project_id=project.pk,
        ticket_id=ticket.pk,
        actor=actor,
        data=_ticket_data(ticket),
    )
    return ticket


@transaction.atomic
def ticket_update(*, ticket: Ticket, actor: User, data: dict[str, Any], if_match: str | None = None) -> Ticket:
    """Apply the changed fields, bump `version` and record `changes: {field: [old, new]}`.

    The row is locked before the version check, so two writers holding the same ETag cannot both win.
    """
    locked = Ticket.objects.select_for_update(no_key=True).defer("search_vector").get(pk=ticket.pk)
    check_if_match(if_match, locked.version)
    if "title" in data:
        data["title"] = data["title"].strip()
    if "assignee" in data:
        _check_assignee(ticket.project, data["assignee"])

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
        return ticket

    locked.version += 1
    locked.save(update_fields=[*changes, "version", "updated_at"])
    updated = Ticket.objects.select_related("project", "assignee", "reporter").defer("search_vector").get(pk=ticket.pk)
    event_record(
        type=EventType.TICKET_UPDATED,
        project_id=updated.project_id,
        ticket_id=updated.pk,
        actor=actor,
        changes=changes,
        data=_ticket_data(updated),
    )
    return updated


@transaction.atomic
def ticket_delete(*, ticket: Ticket, actor: User, if_match: str | None = None) -> None:
    locked = Ticket.objects.select_for_update(no_key=True).defer("search_vector").get(pk=ticket.pk)
    check_if_match(if_match, locked.version)
    data = _ticket_data(ticket)
    locked.delete()
    event_record(
        type=EventType.TICKET_DELETED, project_id=ticket.project_id, ticket_id=ticket.pk, actor=actor, data=data
    )
