"""How a new ticket is numbered and written with its event: one SQL statement on PostgreSQL.

`ticket_create` builds the row and its representation first, then calls one of the two functions
here, which both claim the project's next number (only if the reporter may create tickets there and
the assignee, if any, is a member of it), write the ticket and its `ticket.created` event, and fill
the claimed parts (project, key, number) into the row, its representation and the event; or write
nothing and answer False when the claim matched no row (`ticket_create` then says why).

- `ticket_insert_in_one_statement` (PostgreSQL): `WITH claimed AS (UPDATE tickets_project ...
  RETURNING ...), inserted AS (INSERT INTO tickets_ticket ... SELECT ... FROM claimed), watched AS
  (its reporter and assignee as watchers), numbered AS (the event counter's upsert) INSERT INTO
  tickets_event ... SELECT ... FROM numbered, claimed, inserted`. Outside a transaction it commits
  by itself, so the project row and the event counter are locked for that statement's time only:
  no Python runs, and no thread waits for the GIL, while other creations queue on them (bench/, W3).
  The statement fills the event's project and the claimed fields of its `data` (jsonb);
  `_fill_claimed` renders the same ones in Python for the answer (tests compare the two).
- `ticket_insert_in_steps` (SQLite, the embedded default, which has no data-modifying WITH): the
  same claim, the ticket's INSERT, its watchers' and the event's, one by one in a transaction
  (SQLite runs one write transaction at a time, so nothing else interleaves).
"""

import functools
import uuid
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction

from hopla.sql import db_uuid, row_insert_sql
from tickets.models import ROLE_RANK, Event, Role, Ticket
from tickets.serializers import TicketSerializer
from tickets.services.event_writing import event_insert
from tickets.services.watchers import CREATION_WATCHERS_CTE, creation_watcher_ids, watchers_add

# Who may create tickets: members and above, as `selectors.require_role` ranks them (an SQL list).
_CREATOR_ROLES = ", ".join(f"'{role.value}'" for role, rank in ROLE_RANK.items() if rank >= ROLE_RANK[Role.MEMBER])


def _claim_sql(column: str) -> str:
    """Bump the counter of a project the reporter may create tickets in, and of which the assignee (if
    any) is a member; RETURNING its id, the new ticket's key and number. Params: the project's id or
    key (`column`), the reporter's id, the assignee's id twice (or NULL).

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


def _claim(ticket: Ticket, project: dict[str, Any]) -> tuple[str, list[Any]]:
    """The claim's SQL and values for `project`, a `selectors.project_lookup` (by pk or by key)."""
    ((field_name, value),) = project.items()
    column = "id" if field_name == "pk" else "key"
    assignee_id = None if ticket.assignee_id is None else db_uuid(ticket.assignee_id)
    values = [db_uuid(value) if column == "id" else value, db_uuid(ticket.reporter_id), assignee_id, assignee_id]
    return _claim_sql(column), values


# What the claim fills in, by the representation's names.
_CLAIMED_FIELDS = ("project", "key", "created_at", "updated_at")


@functools.cache
def _claimed_field_steps() -> list[tuple[str, str, Callable[[Any], Any]]]:
    """(name, attribute, renderer) of the claimed fields: they render as TicketSerializer renders them."""
    return [step for step in TicketSerializer._representation_steps() if step[0] in _CLAIMED_FIELDS]


def _fill_claimed(ticket: Ticket, data: dict[str, Any], event: Event, claimed: tuple[Any, str, int]) -> None:
    project_id, key, number = claimed
    ticket.project_id, ticket.key, ticket.number = project_id, key, number
    event.project_id = project_id
    for name, attribute, render in _claimed_field_steps():
        data[name] = render(getattr(ticket, attribute))


def _mark_written(ticket: Ticket, event: Event) -> None:
    """The row is in the database now, as its event is: a later save() must UPDATE it (what
    Model.save() would have recorded)."""
    ticket._state.adding = False
    ticket._state.db = event._state.db


def ticket_insert_in_one_statement(
    *, ticket: Ticket, data: dict[str, Any], event: Event, project: dict[str, Any]
) -> bool:
    """PostgreSQL: claim, ticket and event in one statement (see the module's docstring)."""
    claim_sql, claim_values = _claim(ticket, project)
    ticket_sql, ticket_values = row_insert_sql(
        ticket,
        source="claimed",
        column_sql={"project_id": "claimed.id", "key": "claimed.key", "number": "claimed.number"},
    )
    watcher_ids = [db_uuid(user_id) for user_id in creation_watcher_ids(ticket)]
    returned = event_insert(
        event,
        ctes=f"claimed AS ({claim_sql}), inserted AS ({ticket_sql} RETURNING 1), {CREATION_WATCHERS_CTE}",
        cte_values=[*claim_values, *ticket_values, db_uuid(ticket.pk), watcher_ids],
        after="claimed, inserted",
        column_sql={
            "project_id": "claimed.id",
            "data": "%s::jsonb || jsonb_build_object('project', claimed.id, 'key', claimed.key)",
        },
        returning=", project_id, (SELECT key FROM claimed), (SELECT number FROM claimed)",
    )
    if returned is None:  # the claim matched no row: nothing was written
        return False
    _, project_id, key, number = returned
    _fill_claimed(ticket, data, event, (project_id, key, number))
    _mark_written(ticket, event)
    return True


def ticket_insert_in_steps(*, ticket: Ticket, data: dict[str, Any], event: Event, project: dict[str, Any]) -> bool:
    """SQLite: the same claim, then the ticket's INSERT and the event's, in one transaction."""
    claim_sql, claim_values = _claim(ticket, project)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(claim_sql, claim_values)
        claimed = cursor.fetchone()
        if claimed is None:
            return False
        project_id, key, number = claimed
        _fill_claimed(ticket, data, event, (uuid.UUID(str(project_id)), key, number))  # hex text on SQLite
        sql, values = row_insert_sql(ticket)
        cursor.execute(sql, values)
        watchers_add(ticket_id=ticket.pk, user_ids=creation_watcher_ids(ticket))
        event_insert(event)
    _mark_written(ticket, event)
    return True
