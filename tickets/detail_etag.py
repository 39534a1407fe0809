"""The ticket detail's ETag: a conditional GET (`If-None-Match`) answers 304 without building the ticket.

`version` alone (SPEC §5's ETag for If-Match) does not cover the answer: a comment or an image changes
`comment_count` or `image_count`, a watch changes `watcher_count`, a renamed or deleted user changes
the assignee's or reporter's summary, and none of them bumps the version. So the tag is

    "<version>.<digest>"

where the digest hashes, in their rendered form, every field of the answer that can change without the
version (`updated_at`, the counts, both user summaries, `is_watching`, `watcher_count`) and what the
request asks of the representation (Accept, query string). Title, description, status and the rest
change only with the version. If-Match still compares the version alone (hopla.api.conditional): a
write's precondition is the ticket's fields, not who watches it, and `"<version>"` stays accepted.

`ticket_detail_state` reads those fields, with the reader's membership, in one statement on indexed
columns (the ticket by key or id, two users by primary key, the watchers by (ticket, user)); the
tag built from it is the tag `detail_etag` builds from the answer, as the tests check.
"""

import hashlib
from collections.abc import Mapping
from typing import Any

from django.db import connection
from rest_framework.request import Request

from accounts.models import User
from tickets import selectors
from tickets.list_rows import render_datetime

# The fields of the answer (TicketWatchingSerializer) that move without `version`.
_DIGESTED = ("id", "updated_at", "comment_count", "image_count", "is_watching", "watcher_count")
_USERS = ("assignee", "reporter")

# The reader's membership is the permission check: an outsider's request finds no row (and is then
# answered by the ordinary path, whose 404 it gets).
_STATE = """
SELECT
    t.id, t.version, t.updated_at, t.comment_count, t.image_count,
    a.id, a.email, a.full_name, r.id, r.email, r.full_name,
    EXISTS(SELECT 1 FROM tickets_watcher w WHERE w.ticket_id = t.id AND w.user_id = %s),
    (SELECT COUNT(*) FROM tickets_watcher w WHERE w.ticket_id = t.id)
FROM tickets_ticket t
LEFT OUTER JOIN accounts_user a ON a.id = t.assignee_id
LEFT OUTER JOIN accounts_user r ON r.id = t.reporter_id
WHERE t.{column} = %s
  AND EXISTS(SELECT 1 FROM tickets_membership m WHERE m.project_id = t.project_id AND m.user_id = %s)
"""
_STATE_BY_ID = _STATE.format(column="id")
_STATE_BY_KEY = _STATE.format(column="key")


def detail_etag(answer: Mapping[str, Any], request: Request) -> str:
    """The ETag of a ticket answered as `answer` (TicketWatchingSerializer's fields) to `request`."""
    parts: list[Any] = [answer[field] for field in _DIGESTED]
    for user in _USERS:
        summary = answer[user]
        parts.append(None if summary is None else (summary["id"], summary["email"], summary["full_name"]))
    parts += [sorted(request.query_params.lists()), request.META.get("HTTP_ACCEPT", "")]
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).hexdigest()
    return f'"{answer["version"]}.{digest}"'


def ticket_detail_state(*, user: User, reference: str) -> dict[str, Any] | None:
    """The fields `detail_etag` hashes, rendered as the answer renders them, of the ticket `reference`
    (id or key) if `user` may read it; None otherwise, and on databases other than PostgreSQL."""
    if connection.vendor != "postgresql":
        return None
    ticket_id = selectors.as_uuid(reference)
    value: Any
    if ticket_id is not None:
        statement, value = _STATE_BY_ID, ticket_id
    elif selectors.TICKET_KEY.match(reference):
        statement, value = _STATE_BY_KEY, reference.upper()
    else:
        return None
    with connection.cursor() as cursor:
        cursor.execute(statement, [user.pk, value, user.pk])
        row = cursor.fetchone()
    if row is None:
        return None
    (ticket, version, updated_at, comments, images, *users, is_watching, watchers) = row
    return {
        "id": str(ticket),
        "version": version,
        "updated_at": render_datetime(updated_at),
        "comment_count": comments,
        "image_count": images,
        "assignee": _summary(*users[:3]),
        "reporter": _summary(*users[3:]),
        "is_watching": is_watching,
        "watcher_count": watchers,
    }


def _summary(user_id: Any, email: str, full_name: str) -> dict[str, Any] | None:
    return None if user_id is None else {"id": str(user_id), "email": email, "full_name": full_name}
