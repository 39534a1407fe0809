"""The framework-free floor of W1 and W2 (issue 21): a raw ASGI callable, no Django in its process.

Served by the Procfile's web command itself (`bench.processes.raw_floor_server`: the same server, the
same worker count), it answers `GET /api/v1/tickets/?<query>` for the query strings the bench gives
it, the way hopla answers them with nothing of a framework in between: the JWT checked by PyJWT (with
simplejwt's checks: the user exists, is active, the token's password hash is the password's), then
hopla's own state (the list's ETag statement, whose row names the reader's projects), count and page
statements, and the page rendered with plain functions and orjson.

Nothing here is written by hand: the bench captures hopla's statements from one real request of hopla
(`bench.raw_floor_config`), with the acting user's id and projects in them, and this module only puts
the requesting user's id and projects in their place. The bench checks that both answer the same bytes.

The statements run on a psycopg async pool of as many connections as the load has (the config's
`pool_size`), in autocommit, one pool checkout per request as hopla's thread holds one connection.
Prepared statements are off: the database runs the same protocol's work for both sides.
"""

import asyncio
import datetime
import hashlib
import os
import uuid
from typing import Any
from urllib import parse

import jwt
import orjson
from psycopg_pool import AsyncConnectionPool

_CONFIG: dict[str, Any] = orjson.loads(open(os.environ["RAW_FLOOR_CONFIG"], "rb").read())  # noqa: SIM115
_USER_MARKER: str = _CONFIG["user_marker"]  # the captured user's id in the statements, as psycopg writes it
_USER_COLUMNS: list[str] = _CONFIG["user_columns"]
_USER_ID = _USER_COLUMNS.index("id")
_USER_ACTIVE = _USER_COLUMNS.index("is_active")
_USER_PASSWORD = _USER_COLUMNS.index("password")
_PRIORITY_NAMES = {int(value): name for value, name in _CONFIG["priority_names"].items()}
_LISTS: dict[str, dict[str, Any]] = _CONFIG["lists"]  # query string -> state, count, page, limit, offset
_PROJECTS_LITERAL: str = _CONFIG["projects_literal"]  # the captured user's projects in the count and page

_pool: AsyncConnectionPool | None = None
_pool_lock = asyncio.Lock()


async def _connections() -> AsyncConnectionPool:
    global _pool
    async with _pool_lock:
        if _pool is None:
            _pool = AsyncConnectionPool(
                _CONFIG["conninfo"],
                min_size=_CONFIG["pool_size"],
                max_size=_CONFIG["pool_size"],
                # UTC, as Django sets its connections: datetimes then render as hopla renders them.
                kwargs={"autocommit": True, "prepare_threshold": None, "options": "-c TimeZone=UTC"},
                open=False,
            )
            await _pool.open(wait=True)
    return _pool


def _user_id_of(authorization: bytes) -> tuple[uuid.UUID, str] | None:
    """The token's user id and password hash claim; None when the token is not a valid one."""
    if not authorization.startswith(b"Bearer "):
        return None
    try:
        claims = jwt.decode(authorization[7:], _CONFIG["signing_key"], algorithms=[_CONFIG["algorithm"]])
        return uuid.UUID(str(claims["user_id"])), str(claims.get("hash_password"))
    except (jwt.PyJWTError, KeyError, ValueError):
        return None


def _projects_literal(memberships: str | None) -> str:
    """bench.raw_floor_config.projects_literal, without importing Django: the reader's projects as
    hopla's statements name them, from the state row's `<project id>:<role>:<seq>` memberships."""
    if not memberships:
        return ""
    return ", ".join(f"'{uuid.UUID(part.split(':', 1)[0]).hex}'::uuid" for part in memberships.split(","))


def _datetime(value: datetime.datetime | None) -> str | None:
    """DRF's DateTimeField: ISO 8601, `Z` for UTC."""
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _user_summary(row: dict[str, Any], user: str) -> dict[str, Any] | None:
    if row[f"{user}__id"] is None:  # an outer-joined user that is not there
        return None
    return {"id": str(row[f"{user}__id"]), "email": row[f"{user}__email"], "full_name": row[f"{user}__full_name"]}


def _ticket(row: dict[str, Any]) -> dict[str, Any]:
    due_date = row["due_date"]
    return {
        "id": str(row["id"]),
        "key": row["key"],
        "project": str(row["project_id"]),
        "title": row["title"],
        "description": row["description"],
        "status": row["status"],
        "priority": _PRIORITY_NAMES[row["priority"]],
        "labels": row["labels"],
        "assignee": _user_summary(row, "assignee"),
        "reporter": _user_summary(row, "reporter"),
        "due_date": due_date.isoformat() if due_date else None,
        "version": row["version"],
        "comment_count": row["comment_count"],
        "image_count": row["image_count"],
        "created_at": _datetime(row["created_at"]),
        "updated_at": _datetime(row["updated_at"]),
        "closed_at": _datetime(row["closed_at"]),
        "is_watching": row["is_watching"],
        "watcher_count": row["watcher_count"],
    }


def _replace_query_param(url: str, key: str, value: Any) -> str:
    """DRF's rest_framework.utils.urls.replace_query_param, with the standard library only."""
    scheme, netloc, path, query, fragment = parse.urlsplit(url)
    query_dict = parse.parse_qs(query, keep_blank_values=True)
    query_dict[key] = [str(value)]
    return parse.urlunsplit((scheme, netloc, path, parse.urlencode(sorted(query_dict.items()), doseq=True), fragment))


def _remove_query_param(url: str, key: str) -> str:
    scheme, netloc, path, query, fragment = parse.urlsplit(url)
    query_dict = parse.parse_qs(query, keep_blank_values=True)
    query_dict.pop(key, None)
    return parse.urlunsplit((scheme, netloc, path, parse.urlencode(sorted(query_dict.items()), doseq=True), fragment))


def _links(url: str, count: int, limit: int, offset: int) -> tuple[str | None, str | None]:
    """DRF's LimitOffsetPagination get_next_link and get_previous_link."""
    next_url = None
    if offset + limit < count:
        next_url = _replace_query_param(_replace_query_param(url, "limit", limit), "offset", offset + limit)
    previous_url = None
    if offset > 0:
        previous_url = _replace_query_param(url, "limit", limit)
        if offset - limit <= 0:
            previous_url = _remove_query_param(previous_url, "offset")
        else:
            previous_url = _replace_query_param(previous_url, "offset", offset - limit)
    return next_url, previous_url


async def _ticket_list(scope: dict[str, Any], headers: dict[bytes, bytes]) -> tuple[int, bytes]:
    query_string = scope["query_string"].decode("latin-1")
    listing = _LISTS.get(query_string)
    if listing is None:
        return 404, b'{"detail":"Not a query string this floor was given.","code":"not_found"}'
    token = _user_id_of(headers.get(b"authorization", b""))
    if token is None:
        return 401, b'{"detail":"Not authenticated.","code":"not_authenticated"}'
    user_id, password_hash = token
    pool = await _connections()
    async with pool.connection() as connection:
        cursor = await connection.execute(_CONFIG["user_statement"].replace(_USER_MARKER, user_id.hex))
        user = await cursor.fetchone()
        if user is None or not user[_USER_ACTIVE]:
            return 401, b'{"detail":"User not found","code":"user_not_found"}'
        if hashlib.md5(user[_USER_PASSWORD].encode()).hexdigest().upper() != password_hash:
            return 401, b'{"detail":"The user\'s password has been changed.","code":"password_changed"}'
        user_hex = user[_USER_ID].hex
        cursor = await connection.execute(listing["state"].replace(_USER_MARKER, user_hex))
        state = await cursor.fetchone()
        projects = _projects_literal(state[1] if state else None)
        for statement in listing["extra"]:
            await connection.execute(statement.replace(_USER_MARKER, user_hex))
        count_statement = listing["count"]
        rows: list[dict[str, Any]] = []
        if not projects and _PROJECTS_LITERAL in count_statement:
            count = 0  # hopla sends no count naming no project (Django's empty IN)
        else:
            count_statement = count_statement.replace(_USER_MARKER, user_hex).replace(_PROJECTS_LITERAL, projects)
            cursor = await connection.execute(count_statement)
            (count,) = await cursor.fetchone()  # type: ignore[misc]
        if count and listing["offset"] <= count:
            page = listing["page"].replace(_USER_MARKER, user_hex).replace(_PROJECTS_LITERAL, projects)
            cursor = await connection.execute(page)
            # hopla reads the page with values(): its columns are named (assignee__email, is_watching...).
            names = [column.name for column in cursor.description or []]
            rows = [dict(zip(names, row, strict=True)) for row in await cursor.fetchall()]
    host = headers.get(b"host", b"").decode("latin-1")
    url = f"{scope['scheme']}://{host}{scope['path']}" + (f"?{query_string}" if query_string else "")
    next_url, previous_url = _links(url, count, listing["limit"], listing["offset"])
    body = {"count": count, "next": next_url, "previous": previous_url, "results": [_ticket(row) for row in rows]}
    return 200, orjson.dumps(body)


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if _pool is not None:
                await _pool.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    if scope["path"] == "/healthz":
        status, body = 200, b'{"status":"ok"}'
    elif scope["path"] == _CONFIG["path"] and scope["method"] in ("GET", "HEAD"):
        status, body = await _ticket_list(scope, dict(scope["headers"]))
    else:
        status, body = 404, b'{"detail":"Not found.","code":"not_found"}'
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
