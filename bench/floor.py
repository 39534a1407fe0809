"""The floor: what the ticket endpoints cost with only Django's request handling, one cursor and orjson.

Each floor view runs the same SQL as hopla's endpoint and answers the same JSON. The list's SQL is not
rewritten by hand: the first request for a query string runs hopla's own selector and filters once,
under CaptureQueriesContext, for a placeholder user of one placeholder project, and keeps the exact
statements; every later request reads the user's projects (hopla reads them in its ETag statement) and
runs those strings with the user's id and projects put in. `bench.http_workloads` checks that both answer the same.
"""

import contextlib
import datetime
import json
import uuid
from typing import Any

import jwt
import orjson
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from rest_framework.utils.urls import remove_query_param, replace_query_param

from accounts.models import User
from hopla.channel_groups import project_group
from tickets.filters import TicketFilter
from tickets.models import Priority, Ticket
from tickets.selectors import LIST_USER_FIELDS, ticket_count, ticket_list

# Stand for the acting user and their projects in the captured statements; no real user or project has them.
_PLACEHOLDER_USER = uuid.UUID("00000000-0000-4000-8000-00000000b0b0")
_PLACEHOLDER_PROJECT = uuid.UUID("00000000-0000-4000-8000-00000000b0b1")
# The reader's projects, which hopla's list names as constants (tickets.selectors.ticket_list_rows).
_MY_PROJECTS = "SELECT project_id FROM tickets_membership WHERE user_id = %s ORDER BY project_id"
_PRIORITY_NAMES = {priority.value: priority.label for priority in Priority}
_USER_FIELDS = [field.attname for field in User._meta.concrete_fields]
# What the list selects of the joined assignee and reporter, in the model's column order.
_SUMMARY_FIELDS = [name for name in _USER_FIELDS if name in LIST_USER_FIELDS]
_TICKET_COLUMNS = [field.attname for field in Ticket._meta.concrete_fields if field.name != "search_vector"]
# ticket_list's annotations, which Django selects after the ticket's columns (SPEC §11's reader fields).
_READER_COLUMNS = ["is_watching", "watcher_count"]

# query string -> (count statement, page statement); user statement
_list_statements: dict[str, tuple[str, str]] = {}
_user_statement: list[str] = []


def _capture(run: Any) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        run()
    return [query["sql"] for query in captured.captured_queries]


def _for_user(statement: str, user_id: uuid.UUID, project_ids: list[uuid.UUID] | None = None) -> str:
    """The statement for another user and their projects: psycopg writes UUID literals as bare hex."""
    statement = statement.replace(_PLACEHOLDER_USER.hex, user_id.hex)
    if project_ids is None:
        return statement
    return statement.replace(
        f"'{_PLACEHOLDER_PROJECT.hex}'::uuid", ", ".join(f"'{project_id.hex}'::uuid" for project_id in project_ids)
    )


def _authenticated_user(request: HttpRequest) -> tuple | None:
    """Signature and expiry checked by PyJWT, then simplejwt's own user query; None means 401."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    try:
        claims = jwt.decode(header[7:], settings.SIMPLE_JWT["SIGNING_KEY"], algorithms=["HS256"])
    except jwt.PyJWTError:
        return None
    if not _user_statement:

        def get_placeholder() -> None:
            with contextlib.suppress(User.DoesNotExist):
                User.objects.get(pk=_PLACEHOLDER_USER)

        _user_statement.append(_capture(get_placeholder)[-1])
    with connection.cursor() as cursor:
        cursor.execute(_for_user(_user_statement[0], uuid.UUID(claims["user_id"])))
        row = cursor.fetchone()
    if row is None or not row[_USER_FIELDS.index("is_active")]:
        return None
    return row


def _user_id(row: tuple) -> uuid.UUID:
    return row[_USER_FIELDS.index("id")]


def _api_datetime(value: datetime.datetime | None) -> str | None:
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _user_summary(row: tuple, start: int, fields: list[str] = _USER_FIELDS) -> dict[str, Any] | None:
    """The user whose `fields` start at `start` in `row`; None for a NULL (outer-joined) user."""
    if row[start + fields.index("id")] is None:
        return None
    return {
        "id": str(row[start + fields.index("id")]),
        "email": row[start + fields.index("email")],
        "full_name": row[start + fields.index("full_name")],
    }


def _ticket_json(ticket: dict[str, Any], assignee: Any, reporter: Any) -> dict[str, Any]:
    labels = ticket["labels"]
    return {
        "id": str(ticket["id"]),
        "key": ticket["key"],
        "project": str(ticket["project_id"]),
        "title": ticket["title"],
        "description": ticket["description"],
        "status": ticket["status"],
        "priority": _PRIORITY_NAMES[ticket["priority"]],
        "labels": json.loads(labels) if isinstance(labels, str) else labels,
        "assignee": assignee,
        "reporter": reporter,
        "due_date": ticket["due_date"].isoformat() if ticket["due_date"] else None,
        "version": ticket["version"],
        "comment_count": ticket["comment_count"],
        "image_count": ticket["image_count"],
        "created_at": _api_datetime(ticket["created_at"]),
        "updated_at": _api_datetime(ticket["updated_at"]),
        "closed_at": _api_datetime(ticket["closed_at"]),
        "is_watching": ticket["is_watching"],
        "watcher_count": ticket["watcher_count"],
    }


def _json_response(body: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(orjson.dumps(body), status=status, content_type="application/json")


def _list_statements_for(request: HttpRequest) -> tuple[str, str]:
    """hopla's two list statements for this query string (count, page), captured on first use."""
    query_string = request.META.get("QUERY_STRING", "")
    if query_string not in _list_statements:
        placeholder = User(pk=_PLACEHOLDER_USER)
        filters = TicketFilter(
            request.GET, queryset=ticket_list(user=placeholder, project_ids=[_PLACEHOLDER_PROJECT]), request=request
        )
        queryset = filters.qs
        limit = int(request.GET.get("limit", 25))
        offset = int(request.GET.get("offset", 0))
        filtered = TicketFilter.narrows(request.GET)
        count_sql = _capture(lambda: ticket_count(user=placeholder, tickets=queryset, filtered=filtered))[0]
        # The count is zero for the placeholder, so force the page query the way the paginator runs it.
        page_sql = _capture(lambda: list(queryset[offset : offset + limit]))[0]
        _list_statements[query_string] = (count_sql, page_sql)
    return _list_statements[query_string]


def _ticket_list(request: HttpRequest) -> HttpResponse:
    user = _authenticated_user(request)
    if user is None:
        return JsonResponse({"detail": "Not authenticated.", "code": "not_authenticated"}, status=401)
    user_id = _user_id(user)
    count_sql, page_sql = _list_statements_for(request)
    limit = min(int(request.GET.get("limit", 25)), 100)
    offset = int(request.GET.get("offset", 0))
    placeholder_project = f"'{_PLACEHOLDER_PROJECT.hex}'::uuid"
    with connection.cursor() as cursor:
        cursor.execute(_MY_PROJECTS, [user_id])
        project_ids = [project_id for (project_id,) in cursor.fetchall()]
        rows: list[tuple] = []
        if not project_ids and placeholder_project in count_sql:
            count = 0  # hopla sends no count naming no project (Django's empty IN)
        else:
            cursor.execute(_for_user(count_sql, user_id, project_ids))
            count = cursor.fetchone()[0]
        if count and offset <= count:
            cursor.execute(_for_user(page_sql, user_id, project_ids))
            rows = cursor.fetchall()
    # The ticket's columns, then the joined assignee's and reporter's summary columns (the order of
    # ticket_list's select_related).
    assignee_at = len(_TICKET_COLUMNS) + len(_READER_COLUMNS)
    reporter_at = assignee_at + len(_SUMMARY_FIELDS)
    results = [
        _ticket_json(
            dict(zip(_TICKET_COLUMNS + _READER_COLUMNS, row, strict=False)),
            _user_summary(row, assignee_at, _SUMMARY_FIELDS),
            _user_summary(row, reporter_at, _SUMMARY_FIELDS),
        )
        for row in rows
    ]
    url = request.build_absolute_uri()
    next_url = None
    if offset + limit < count:
        next_url = replace_query_param(replace_query_param(url, "limit", limit), "offset", offset + limit)
    previous_url = None
    if offset > 0:
        previous_url = replace_query_param(url, "limit", limit)
        previous_url = (
            remove_query_param(previous_url, "offset")
            if offset - limit <= 0
            else replace_query_param(previous_url, "offset", offset - limit)
        )
    return _json_response({"count": count, "next": next_url, "previous": previous_url, "results": results})


# Bumps the project's counter and checks the role in one statement: the lock hopla's SELECT FOR UPDATE takes.
_NEXT_NUMBER = """
UPDATE tickets_project SET last_ticket_number = last_ticket_number + 1
WHERE key = %s AND EXISTS (
    SELECT 1 FROM tickets_membership
    WHERE project_id = tickets_project.id AND user_id = %s AND role IN ('admin', 'member')
)
RETURNING id, key, last_ticket_number
"""
_INSERT_TICKET = """
INSERT INTO tickets_ticket (id, project_id, number, key, title, description, status, priority, labels,
    assignee_id, reporter_id, due_date, version, comment_count, image_count, created_at, updated_at, closed_at)
VALUES (%s, %s, %s, %s, %s, '', 'open', %s, '[]', NULL, %s, NULL, 1, 0, 0, %s, %s, NULL)
"""


# The diagnostic floor (`?with_event=1`) writes as hopla does (tickets.services.tickets.ticket_create):
# one statement, committed by itself, claims the number, inserts the ticket, takes the next event
# number from the counter and inserts the event. published_at is set at once (the floor publishes
# right after), so the worker's sweep leaves it.
_CREATE_WITH_EVENT = """
WITH claimed AS (
    UPDATE tickets_project SET last_ticket_number = last_ticket_number + 1
    WHERE key = %s AND EXISTS (
        SELECT 1 FROM tickets_membership
        WHERE project_id = tickets_project.id AND user_id = %s AND role IN ('admin', 'member')
    )
    RETURNING id, key || '-' || last_ticket_number AS key, last_ticket_number AS number
), inserted AS (
    INSERT INTO tickets_ticket (id, project_id, number, key, title, description, status, priority, labels,
        assignee_id, reporter_id, due_date, version, comment_count, image_count, created_at, updated_at, closed_at)
    SELECT %s, id, number, key, %s, '', 'open', %s, '[]', NULL, %s, NULL, 1, 0, 0, %s, %s, NULL FROM claimed
    RETURNING 1
), watched AS (
    INSERT INTO tickets_watcher (ticket_id, user_id) SELECT %s, %s FROM inserted RETURNING 1
), numbered AS (
    INSERT INTO tickets_eventcounter (id, last)
    SELECT 1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM tickets_event) FROM claimed, inserted
    ON CONFLICT (id) DO UPDATE SET last = tickets_eventcounter.last + 1 RETURNING last
)
INSERT INTO tickets_event (seq, id, type, project_id, ticket, actor_id, at, changes, data, published_at)
SELECT last, %s, 'ticket.created', claimed.id, %s, %s, %s, '{}',
    %s::jsonb || jsonb_build_object('project', claimed.id, 'key', claimed.key), %s
FROM numbered, claimed
RETURNING seq, project_id, (SELECT key FROM claimed)
"""


_INSERT_WATCHER = "INSERT INTO tickets_watcher (ticket_id, user_id) VALUES (%s, %s)"


def _ticket_create(request: HttpRequest) -> HttpResponse:
    """The W3 floor: the number claimed and the ticket inserted in a transaction. With `?with_event=1`
    (a diagnostic, not the floor the issue defines) it writes as hopla does, event and all, and
    publishes the event, as SPEC §7 has hopla do."""
    user = _authenticated_user(request)
    if user is None:
        return JsonResponse({"detail": "Not authenticated.", "code": "not_authenticated"}, status=401)
    body = json.loads(request.body)
    title = str(body["title"]).strip()
    ticket_id = uuid.uuid4()
    if request.GET.get("with_event") == "1":
        return _ticket_create_with_event(user, str(body["project"]).upper(), title, ticket_id)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_NEXT_NUMBER, [str(body["project"]).upper(), _user_id(user)])
        counted = cursor.fetchone()
        if counted is None:
            return JsonResponse({"detail": "No such project among yours.", "code": "invalid"}, status=400)
        project_id, project_key, number = counted
        key = f"{project_key}-{number}"
        now = timezone.now()
        values = [ticket_id, project_id, number, key, title, Priority.MEDIUM, _user_id(user), now, now]
        cursor.execute(_INSERT_TICKET, values)
        cursor.execute(_INSERT_WATCHER, [ticket_id, _user_id(user)])
    body_json = _ticket_json(_new_ticket(ticket_id, key, project_id, title, now), None, _user_summary(user, 0))
    return _json_response(body_json, status=201)


def _ticket_create_with_event(user: Any, project_key: str, title: str, ticket_id: uuid.UUID) -> HttpResponse:
    now = timezone.now()
    # The project and key are the statement's; the event's data gets them there, the answer here.
    body_json = _ticket_json(_new_ticket(ticket_id, "", None, title, now), None, _user_summary(user, 0))
    event_id = uuid.uuid4()
    user_id = _user_id(user)
    values: list[Any] = [project_key, user_id, ticket_id, title, Priority.MEDIUM, user_id, now, now, ticket_id, user_id]
    event_data = {name: value for name, value in body_json.items() if name not in _READER_COLUMNS}  # as events carry it
    values += [event_id, ticket_id, user_id, now, orjson.dumps(event_data).decode(), now]
    with connection.cursor() as cursor:
        cursor.execute(_CREATE_WITH_EVENT, values)
        created = cursor.fetchone()
    if created is None:
        return JsonResponse({"detail": "No such project among yours.", "code": "invalid"}, status=400)
    seq, project_id, key = created
    body_json.update(project=str(project_id), key=key)
    event = {
        "id": str(event_id),
        "seq": seq,
        "type": "ticket.created",
        "project": str(project_id),
        "ticket": str(ticket_id),
        "actor": _user_summary(user, 0),
        "at": _api_datetime(now),
        "changes": {},
        "data": body_json,
    }
    # Published the way hopla publishes (tickets.services.event_publishing.event_publish), minus the safety net.
    layer = get_channel_layer()
    message = {"type": "event.message", "event": event}
    if hasattr(layer, "group_send_blocking"):
        layer.group_send_blocking(project_group(project_id), message)
    else:
        async_to_sync(layer.group_send)(project_group(project_id), message)
    return _json_response(body_json, status=201)


def _new_ticket(ticket_id: uuid.UUID, key: str, project_id: Any, title: str, now: datetime.datetime) -> dict[str, Any]:
    return {
        "id": ticket_id,
        "key": key,
        "project_id": project_id,
        "title": title,
        "description": "",
        "status": "open",
        "priority": Priority.MEDIUM.value,
        "labels": [],
        "due_date": None,
        "version": 1,
        "comment_count": 0,
        "image_count": 0,
        "created_at": now,
        "updated_at": now,
        "closed_at": None,
        # The reporter watches a new ticket (SPEC §11): the floor writes that row as hopla does.
        "is_watching": True,
        "watcher_count": 1,
    }


@csrf_exempt
def ticket_list_or_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _ticket_create(request)
    return _ticket_list(request)
