"""The ticket list's ETag: a conditional GET (`If-None-Match`) answers 304 without building the page.

The tag is a hash of what the page's bytes depend on, read in one cheap statement:

- each of the reader's memberships (project and role: a project joined, left or deleted changes it)
  with the newest event `seq` of that project: every change of a ticket, comment, image or member
  writes an event in its own transaction, and events are numbered in commit order (the counter row
  stays locked until commit, tickets.services.event_writing), so a newer commit always shows here;
- ListStamp, bumped by what shows in the list without an event: watches (is_watching,
  watcher_count) and users' names and emails (the assignee and reporter);
- the request: the reader, the normalized query string, the host and scheme the page links are
  built from, the Accept header (indented JSON), and today's date (`overdue=`).

The tag is taken before the page is read, so a change committed in between can only make the
client's next request answer 200 again, never a 304 for a page it does not have. The page and its
count then keep to the projects the tag's statement read (ListState.project_ids): a membership
ended in between shows as it would have a moment earlier, and the tag describes what the page holds.
SQLite (the embedded default) has no ListStamp trigger: lists answer no ETag there.
"""

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone
from rest_framework.request import Request

from accounts.models import User

# One row: the stamp and the reader's projects, each with its role and newest event (read backwards
# on the event_project_seq index: one index probe per project).
_STATE = """
SELECT
    (SELECT value FROM tickets_liststamp WHERE id = 1),
    string_agg(
        m.project_id::text || ':' || m.role || ':' || COALESCE((
            SELECT e.seq FROM tickets_event e WHERE e.project_id = m.project_id ORDER BY e.seq DESC LIMIT 1
        ), 0)::text,
        ',' ORDER BY m.project_id
    )
FROM tickets_membership m WHERE m.user_id = %s
"""

_BUMP = (
    "INSERT INTO tickets_liststamp (id, value) VALUES (1, 1)"
    " ON CONFLICT (id) DO UPDATE SET value = tickets_liststamp.value + 1"
)


def list_stamp_bump() -> None:
    """A change the lists show that writes no event: call it in the change's transaction."""
    with connection.cursor() as cursor:
        cursor.execute(_BUMP)


@dataclass(frozen=True)
class ListState:
    """What the tag's statement read: the tag, and the reader's projects, which the list then names
    as constants (tickets.selectors.ticket_list_rows): the page and its count keep to the very
    projects the tag describes, and PostgreSQL plans with their real share of the table."""

    etag: str
    project_ids: list[uuid.UUID]


def ticket_list_state(*, user: User, request: Request) -> ListState | None:
    """The list's ETag for this reader and request, and the reader's projects; None where there is
    no tag (SQLite)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(_STATE, [user.pk])
        stamp, projects = cursor.fetchone()
    query = sorted(request.query_params.lists())
    parts: list[Any] = [
        "tickets-v1",
        user.pk,
        stamp,
        projects,
        query,
        request.scheme,
        request.get_host(),
        request.path,
        request.META.get("HTTP_ACCEPT", ""),
        timezone.localdate(),
    ]
    etag = '"' + hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest() + '"'
    # Each membership is `<project id>:<role>:<newest seq>`; a reader of no project has none (NULL).
    project_ids = [uuid.UUID(part.split(":", 1)[0]) for part in projects.split(",")] if projects else []
    return ListState(etag=etag, project_ids=project_ids)


def none_match(if_none_match: str | None, etag: str) -> bool:
    """Whether `If-None-Match` names `etag` (weak comparison, as RFC 9110 asks for GET) or is `*`."""
    if not if_none_match:
        return False
    offered = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in offered or etag in offered
