"""Watcher writes: who hears about a ticket (SPEC §11). Automatic watchers are written by the service
that makes someone one (creation, assignment, comment) in its own transaction; all writes are
idempotent (a second watch of the same ticket is no error and no second row)."""

from collections.abc import Iterable
from typing import Any

from django.db import connection, transaction

from hopla.sql import db_uuid
from tickets.list_etag import list_stamp_bump
from tickets.models import Project, Ticket, Watcher

# The watchers of a ticket being created, in the statement that creates it (ticket_insert): from
# `claimed`, so that nothing is written when the claim is refused. Params: the ticket's id, an array
# of user ids.
CREATION_WATCHERS_CTE = (
    "watched AS (INSERT INTO tickets_watcher (ticket_id, user_id)"
    " SELECT %s, watcher FROM claimed, unnest(%s::uuid[]) AS watcher ON CONFLICT DO NOTHING)"
)


def creation_watcher_ids(ticket: Ticket) -> list[Any]:
    """A new ticket's watchers: its reporter and its assignee (once each)."""
    return list(dict.fromkeys(user for user in (ticket.reporter_id, ticket.assignee_id) if user is not None))


def watchers_add(*, ticket_id: Any, user_ids: Iterable[Any]) -> list[Any]:
    """Make the users watchers of the ticket in one statement; answers the ids of those who were not
    already (the others are left as they are)."""
    return [user_id for _, user_id in watcher_pairs_add([(ticket_id, user_id) for user_id in user_ids])]


def watcher_pairs_add(pairs: Iterable[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Make each (ticket, user) pair a watcher, all in one statement (a bulk change's new assignees);
    answers the pairs that were not already."""
    pairs = list(dict.fromkeys(pairs))
    if not pairs:
        return []
    rows = ", ".join(["(%s, %s)"] * len(pairs))
    values = [db_uuid(value) for pair in pairs for value in pair]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO tickets_watcher (ticket_id, user_id) VALUES {rows} ON CONFLICT DO NOTHING"
            " RETURNING ticket_id, user_id",
            values,
        )
        return [(row[0], row[1]) for row in cursor.fetchall()]


def ticket_watch(*, ticket: Ticket, user: Any) -> None:
    """`PUT …/watch/`: the user watches the ticket (already watching: nothing changes)."""
    with transaction.atomic():
        if watchers_add(ticket_id=ticket.pk, user_ids=[user.pk]):
            list_stamp_bump()  # is_watching and watcher_count changed, and no event says so


def ticket_unwatch(*, ticket: Ticket, user: Any) -> None:
    """`DELETE …/watch/`: the user stops watching (not watching: nothing changes). Being its reporter
    or assignee makes no one watch again; a later assignment or comment does."""
    with transaction.atomic():
        deleted, _ = Watcher.objects.filter(ticket=ticket, user=user).delete()
        if deleted:
            list_stamp_bump()


def watchers_forget_deleted_tickets(*, ticket_ids: Iterable[Any]) -> int:
    """Delete the watchers of tickets that no longer exist, once they have been told of the deletion
    (see Watcher: they outlive the ticket until then). Answers how many were deleted."""
    ticket_ids = list(ticket_ids)
    if not ticket_ids:
        return 0
    gone = Watcher.objects.filter(ticket_id__in=ticket_ids).exclude(ticket_id__in=Ticket.objects.values("pk"))
    deleted, _ = gone.delete()  # one DELETE: nothing refers to a watcher
    return deleted


def watchers_forget_project(*, project: Project) -> None:
    """A project being deleted: its tickets' watchers go first (they would outlive the tickets)."""
    Watcher.objects.filter(ticket__project=project).delete()


def watchers_forget_member(*, project: Project, user: Any) -> None:
    """Someone who leaves a project watches none of its tickets any more (so counts show members only)."""
    Watcher.objects.filter(ticket__project=project, user=user).delete()
