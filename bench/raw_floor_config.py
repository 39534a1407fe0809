"""What the framework-free floor (bench.raw_floor) runs, captured from hopla's own requests.

For each query string, one real request of hopla's list runs in this process under
CaptureQueriesContext: its statements (the user first, then the list's state, the count and the page
last) are kept as psycopg wrote them, the acting user's id in them marked for the floor to replace.
hopla names the reader's projects in the count and the page as constants, read by the state statement
(tickets.list_etag); the floor reads them from the same statement's row and puts them in place of the
captured user's (`projects_literal`). The floor reads the page's columns by the names hopla's values()
gives them (checked here).
"""

import json
import uuid
from pathlib import Path
from typing import Any
from urllib import parse

from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from psycopg.conninfo import make_conninfo

from accounts.models import User
from tickets import selectors
from tickets.models import Priority

API_PATH = "/api/v1/tickets/"


def _captured(token: str, query_string: str) -> list[str]:
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="127.0.0.1")
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"{API_PATH}?{query_string}")
    if response.status_code != 200:
        raise SystemExit(f"hopla answered {response.status_code} to {API_PATH}?{query_string}")
    return [query["sql"] for query in captured.captured_queries]


def _conninfo() -> str:
    database = settings.DATABASES["default"]
    return make_conninfo(
        dbname=database["NAME"],
        user=database["USER"] or None,
        password=database["PASSWORD"] or None,
        host=database["HOST"] or "127.0.0.1",
        port=database["PORT"] or 5432,
        # The server settings hopla's connections take (DB_WORK_MEM), so that the floor's statements run alike.
        options=database.get("OPTIONS", {}).get("options") or None,
    )


def _check_page_columns(page: str) -> None:
    """The floor reads the page's columns by name, as hopla's values() names them."""
    with connection.cursor() as cursor:
        cursor.execute(page)
        names = {column.name for column in cursor.description or []}
    wanted = {*selectors.LIST_ROW_VALUES, "is_watching", "watcher_count"}
    if not wanted <= names:
        raise SystemExit(f"hopla's page statement does not name the columns the floor reads: {wanted - names}")


def projects_literal(memberships: str | None) -> str:
    """The reader's projects as hopla's count and page name them (psycopg writes a UUID as
    `'<hex>'::uuid`), from the state statement's memberships (`<project id>:<role>:<seq>`, by project id)."""
    if not memberships:
        return ""
    return ", ".join(f"'{uuid.UUID(part.split(':', 1)[0]).hex}'::uuid" for part in memberships.split(","))


def _memberships(state_statement: str) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute(state_statement)
        return cursor.fetchone()[1]  # type: ignore[index]


def write(path: Path, *, user: User, token: str, query_strings: list[str], pool_size: int) -> None:
    """The floor's config for `query_strings` (without `?`), as `user` (whose `token` is given) sees them."""
    marker = user.pk.hex
    lists: dict[str, dict[str, Any]] = {}
    user_statement = ""
    projects = ""
    for query_string in query_strings:
        statements = _captured(token, query_string)
        if len(statements) < 4 or '"accounts_user"' not in statements[0] or "tickets_liststamp" not in statements[1]:
            raise SystemExit(
                f"expected hopla's user, state, count and page statements, got {len(statements)}: {statements}"
            )
        projects = projects_literal(_memberships(statements[1]))
        if not projects or not all(marker in statement or projects in statement for statement in statements):
            raise SystemExit(
                "the acting user's id, or their projects, are not in every captured statement as psycopg wrote them"
            )
        _check_page_columns(statements[-1])
        user_statement = statements[0]
        query = parse.parse_qs(query_string)
        lists[query_string] = {
            "state": statements[1],
            # Whatever hopla runs between the state and the count (none today) runs too, its rows unread.
            "extra": statements[2:-2],
            "count": statements[-2],
            "page": statements[-1],
            "limit": min(int(query.get("limit", ["25"])[0]), 100),
            "offset": int(query.get("offset", ["0"])[0]),
        }
    user_columns = [field.attname for field in User._meta.concrete_fields]
    config = {
        "conninfo": _conninfo(),
        "pool_size": pool_size,
        "signing_key": settings.SIMPLE_JWT["SIGNING_KEY"],
        "algorithm": settings.SIMPLE_JWT["ALGORITHM"],
        "path": API_PATH,
        "user_marker": marker,
        "user_statement": user_statement,
        "user_columns": user_columns,
        "projects_literal": projects,
        "priority_names": {str(priority.value): priority.label for priority in Priority},
        "lists": lists,
    }
    path.write_text(json.dumps(config))
