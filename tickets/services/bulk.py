"""Bulk changes (SPEC §13): one request changes up to 500 tickets, each changed or refused on its own.

Each ticket goes through what a PATCH checks (its role, its If-Match, the status workflow, the
assignee's membership), and each change writes its own `ticket.updated` event. The statements do not
grow with the number of tickets: one locks them all, one checks the assignee's memberships, one
UPDATE writes the changed rows, one takes the events' numbers and one INSERT writes the events.
"""

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from hopla.api.conditional import if_match_version, require_version
from hopla.api.exceptions import ApplicationError
from tickets.models import Event, EventType, Membership, Role, Ticket
from tickets.selectors import require_role, tickets_lock_for_bulk, tickets_watching
from tickets.serializers import TicketSerializer
from tickets.services.event_publishing import event_publish_on_commit
from tickets.services.event_writing import event_new, event_numbers_reserve
from tickets.services.tickets import ticket_changes_apply
from tickets.services.watchers import watcher_pairs_add

MAX_TICKETS = 500


@dataclass(frozen=True)
class BulkTarget:
    """A ticket named by id or key, with the ETag its client last read (None: change it anyway)."""

    reference: str
    if_match: str | None = None


@dataclass
class BulkOutcome:
    updated: list[dict[str, Any]]
    errors: list[dict[str, str]]


def _refusal(reference: str, code: str, detail: str) -> dict[str, str]:
    return {"ticket": reference, "code": code, "detail": detail}


def _labels(current: list[str], add: list[str], remove: list[str]) -> list[str]:
    kept = [label for label in current if label not in remove]
    return kept + [label for label in add if label not in kept]


@transaction.atomic
def tickets_bulk_update(
    *,
    actor: User,
    targets: list[BulkTarget],
    changes: dict[str, Any],
    labels_add: list[str] | None = None,
    labels_remove: list[str] | None = None,
) -> BulkOutcome:
    """Apply `changes` (status, priority, assignee, due_date) and the label edits to each target the
    actor may change; answers the changed tickets as the API shows them and a refusal per other one.
    A ticket the change leaves as it was is answered unchanged, without an event."""
    labels_add, labels_remove = labels_add or [], labels_remove or []
    locked = tickets_lock_for_bulk(user=actor, references=[target.reference for target in targets])
    assignee: User | None = changes.get("assignee")
    member_of: set[Any] = set()
    if assignee is not None:
        projects = {ticket.project_id for ticket in locked.values()}
        member_of = set(
            Membership.objects.filter(user=assignee, project_id__in=projects).values_list("project_id", flat=True)
        )

    outcome = BulkOutcome(updated=[], errors=[])
    seen: dict[Any, None] = {}  # ticket ids in the order first named
    rendered: dict[Any, Any] = {}
    changed: list[tuple[Ticket, dict[str, list[Any]]]] = []
    unchanged: list[Ticket] = []
    for target in targets:
        ticket = locked.get(target.reference)
        if ticket is None:
            outcome.errors.append(_refusal(target.reference, "not_found", "No such ticket."))
            continue
        if ticket.pk in seen:
            outcome.errors.append(_refusal(target.reference, "duplicate", "This ticket is named twice in the request."))
            continue
        seen[ticket.pk] = None
        data = dict(changes)
        if labels_add or labels_remove:
            data["labels"] = _labels(ticket.labels, labels_add, labels_remove)
        try:
            # The annotation of tickets_lock_for_bulk: the actor's role in the ticket's project.
            require_role(getattr(ticket, "my_role"), Role.MEMBER, "edit tickets")  # noqa: B009
            if assignee is not None and ticket.project_id not in member_of:
                raise ApplicationError("The assignee must be a member of the ticket's project.", code="not_a_member")
            require_version(if_match_version(target.if_match, read_version=ticket.version), ticket.version)
            ticket_changed = ticket_changes_apply(ticket, data)
        except ApplicationError as refusal:
            outcome.errors.append(_refusal(target.reference, str(refusal.get_codes()), str(refusal.detail)))
            continue
        if ticket_changed:
            changed.append((ticket, ticket_changed))
        else:
            unchanged.append(ticket)

    if changed:
        rendered.update(_write(actor, changed))
    rendered.update({ticket.pk: dict(TicketSerializer(ticket).data) for ticket in unchanged})
    # Each ticket once, in the order the request first named it.
    watching = tickets_watching(ticket_ids=list(rendered), user=actor)
    outcome.updated = [{**rendered[pk], **watching[pk]} for pk in seen if pk in rendered]
    return outcome


def _write(actor: User, changed: list[tuple[Ticket, dict[str, list[Any]]]]) -> dict[Any, dict[str, Any]]:
    """Write the changed rows and their events; answers each ticket as the API shows it, by id."""
    now = timezone.now()
    fields = {"version", "updated_at"}
    for ticket, ticket_changes in changed:
        ticket.version += 1
        ticket.updated_at = now
        fields.update(ticket_changes)
    Ticket.objects.bulk_update([ticket for ticket, _ in changed], sorted(fields))
    events = [
        event_new(
            type=EventType.TICKET_UPDATED,
            project_id=ticket.project_id,
            ticket_id=ticket.pk,
            actor=actor,
            changes=ticket_changes,
            data=dict(TicketSerializer(ticket).data),
        )
        for ticket, ticket_changes in changed
    ]
    first = event_numbers_reserve(len(events))
    for offset, event in enumerate(events):
        event.seq = first + offset
    Event.objects.bulk_create(events)
    for event in events:
        event_publish_on_commit(event)
    # A new assignee watches the ticket from then on (SPEC §11), as a single update makes them.
    watcher_pairs_add(
        (ticket.pk, ticket.assignee_id)
        for ticket, ticket_changes in changed
        if "assignee" in ticket_changes and ticket.assignee_id is not None
    )
    return {event.ticket: event.data for event in events}
