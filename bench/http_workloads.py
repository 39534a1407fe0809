"""W1 to W3: the ticket list, the filtered list and ticket creation, each against its floor view;
and the list deep into the table, by offset against by cursor.

Rounds interleave hopla and the floor (the order alternating), so a slow moment of the shared
machine hits both; figures are medians over rounds, ratios the median of per-round ratios.
"""

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from bench.load import Request, run_wrk
from bench.report import Row, pooled_percentile_ms
from hopla.api import keyset
from tickets.filters import TicketFilter
from tickets.selectors import ticket_list

FLOOR_PATH = "/bench/floor/tickets/"
API_PATH = "/api/v1/tickets/"
LIST_QUERY = "?limit=25"
FILTERED_QUERY = "?status=open,in_progress&priority=high,urgent&search={word}&ordering=-priority,due_date"


@dataclass(frozen=True)
class HttpWorkload:
    name: str
    method: str
    query: str = ""
    body: dict[str, Any] | None = None
    # Each round's one-connection run lasts this share of the round's seconds. W2's requests take
    # ~45 ms against W1's ~8: at the default half it pooled ~200 requests, whose p99 was the second
    # slowest request of the run; a longer run gives it ~1 000, as W1 and W3 have.
    latency_share: float = 0.5
    # The reference's path; W3's diagnostic row passes `?with_event=1` to the floor view.
    floor_path: str = FLOOR_PATH
    latency: bool = True  # also p50/p99 of one connection

    def request(self, path: str, token: str) -> Request:
        body = None if self.body is None else json.dumps(self.body)
        return Request(self.method, path + self.query, token, body)


def workloads(project_key: str, search_word: str) -> list[HttpWorkload]:
    return [
        HttpWorkload("W1 list", "GET", LIST_QUERY),
        HttpWorkload("W2 filtered list", "GET", FILTERED_QUERY.format(word=search_word), latency_share=2),
        HttpWorkload("W3 create", "POST", body={"project": project_key, "title": "Bench ticket"}),
        # Not a target: the floor also writes the ticket's event row and publishes it, which SPEC §7
        # asks of hopla, in hopla's one statement: what is left between the two is the framework.
        HttpWorkload(
            "W3 create vs floor+event",
            "POST",
            body={"project": project_key, "title": "Bench ticket"},
            floor_path=FLOOR_PATH + "?with_event=1",
            latency=False,
        ),
    ]


def in_process(workload: HttpWorkload, path: str, token: str) -> tuple[int, Any, list[str]]:
    """One request through Django in this process: status, JSON body and the SQL it ran."""
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="127.0.0.1")
    with CaptureQueriesContext(connection) as captured:
        if workload.method == "POST":
            response = client.post(path, data=json.dumps(workload.body), content_type="application/json")
        else:
            response = client.get(path + workload.query)
    statements = [query["sql"] for query in captured.captured_queries]
    return response.status_code, response.json(), statements


def _comparable(body: Any) -> Any:
    """The body without what legitimately differs: the page links' path, and a new ticket's identity."""
    text = json.dumps(body, sort_keys=True).replace(FLOOR_PATH, API_PATH)
    comparable = json.loads(text)
    if "results" not in comparable:
        for field in ("id", "key", "created_at", "updated_at"):
            comparable.pop(field, None)
    return comparable


def check_and_count(workload: HttpWorkload, token: str) -> tuple[int, int, list[str]]:
    """Checks that hopla and the floor answer the same; returns both query counts and hopla's SQL."""
    in_process(workload, workload.floor_path, token)  # the floor captures its statements on first use
    hopla_status, hopla_body, hopla_sql = in_process(workload, API_PATH, token)
    floor_status, floor_body, floor_sql = in_process(workload, workload.floor_path, token)
    if hopla_status != floor_status or _comparable(hopla_body) != _comparable(floor_body):
        raise SystemExit(
            f"{workload.name}: the floor does not answer what hopla answers ({hopla_status}/{floor_status})"
        )
    return len(hopla_sql), len(floor_sql), hopla_sql


def explain(statement: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement)
        return [row[0] for row in cursor.fetchall()]


def run(
    workload: HttpWorkload,
    *,
    base_url: str,
    token: str,
    rounds: int,
    seconds: float,
    connections: int,
    rows: list[Row],
    latency: bool = True,
    raw_base_url: str | None = None,
    hopla_request: Request | None = None,
) -> None:
    """Appends the workload's rows against its floor: req/s under load, then p50/p99 of one connection.

    With `raw_base_url` (the framework-free floor's server) every figure is also taken of that floor,
    in the same interleaved rounds, and each gets a second row against it: the Django floor's rows
    then show the framework's share, the framework-free floor's what hopla costs beyond its SQL.
    `hopla_request` replaces hopla's side (W1's conditional GET).
    """
    hopla = hopla_request or workload.request(API_PATH, token)
    sides = {"hopla": (base_url, hopla), "floor": (base_url, workload.request(workload.floor_path, token))}
    if raw_base_url is not None:
        sides["raw"] = (raw_base_url, workload.request(API_PATH, token))
    errors = dict.fromkeys(sides, 0)
    statuses: set[int] = set()
    against = {"floor": "", "raw": " vs framework-free"}
    throughput = {
        side: Row(workload.name, f"req/s ({connections} conn){against[side]}") for side in sides if side != "hopla"
    }
    if raw_base_url is not None:
        throughput["floor"].note = "framework share (vs the Django floor)"
    # Latencies of every round's one-connection run, pooled: percentiles over all of them.
    pooled: dict[str, Counter[int]] = {side: Counter() for side in sides}
    # A short unmeasured run each: connections opened, statements captured, caches warm.
    for url, request in sides.values():
        run_wrk(url, request, connections=connections, seconds=1)
    names = list(sides)
    for number in range(rounds):
        order = names[number % len(names) :] + names[: number % len(names)]
        if number % 2:
            order.reverse()
        loaded = {
            side: run_wrk(sides[side][0], sides[side][1], connections=connections, seconds=seconds) for side in order
        }
        for side, row in throughput.items():
            row.add(loaded["hopla"].requests_per_second, loaded[side].requests_per_second)
        for side, result in loaded.items():
            errors[side] += result.errors
            statuses.add(result.bad_status)
        if latency:
            latency_seconds = seconds * workload.latency_share
            for side in order:
                single = run_wrk(sides[side][0], sides[side][1], connections=1, seconds=latency_seconds)
                pooled[side].update(single.latencies_us)
    if any(errors.values()):
        seen = ", ".join(str(status) for status in sorted(statuses - {0})) or "none"
        counts = ", ".join(f"{side} {count}" for side, count in errors.items())
        throughput["floor"].note = f"errors: {counts} (statuses {seen}; else timeouts)"
    for side, row in throughput.items():
        row.note_spread()
        rows.append(row)
        if latency:
            p50 = Row(workload.name, f"p50 ms (1 conn){against[side]}")
            p99 = Row(workload.name, f"p99 ms (1 conn){against[side]}")
            rows += _pooled_percentiles(p50, p99, pooled["hopla"], pooled[side])


def conditional_request(workload: HttpWorkload, *, base_url: str, token: str) -> Request:
    """hopla's request of `workload` with If-None-Match: the ETag of its answer, checked to answer 304."""
    import urllib.error
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    url = base_url + API_PATH + workload.query
    with opener.open(urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"}), timeout=30) as answer:
        etag = answer.headers["ETag"]
    headers = {"Authorization": f"Bearer {token}", "If-None-Match": etag}
    try:
        with opener.open(urllib.request.Request(url, headers=headers), timeout=30) as answer:
            raise SystemExit(f"{workload.name}: If-None-Match answered {answer.status}, not 304")
    except urllib.error.HTTPError as error:
        if error.code != 304:
            raise
    return Request("GET", API_PATH + workload.query, token, headers=(("If-None-Match", etag),), expected_status=304)


def raw_floor_check(workload: HttpWorkload, *, base_url: str, raw_base_url: str, token: str) -> int:
    """Checks that the framework-free floor answers hopla's bytes; answers their length.

    Both are asked with the same Host header, so that the page links, built from it, are the same."""
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    host = base_url.removeprefix("http://")
    bodies = []
    for url in (base_url, raw_base_url):
        request = urllib.request.Request(
            url + API_PATH + workload.query, headers={"Authorization": f"Bearer {token}", "Host": host}
        )
        with opener.open(request, timeout=30) as response:
            bodies.append(response.read())
    if bodies[0] != bodies[1]:
        raise SystemExit(f"{workload.name}: the framework-free floor does not answer hopla's bytes")
    return len(bodies[0])


def _pooled_percentiles(p50: Row, p99: Row, hopla: Counter[int], reference: Counter[int]) -> list[Row]:
    """p50 and p99 over every request of every round: one short round of a 40 ms request holds some
    50 requests, whose p99 is its slowest one, so per-round p99s measured single outliers."""
    p50.add(pooled_percentile_ms(hopla, 0.5), pooled_percentile_ms(reference, 0.5))
    p99.add(pooled_percentile_ms(hopla, 0.99), pooled_percentile_ms(reference, 0.99))
    p99.note = (p99.note + "; " if p99.note else "") + (
        f"rounds pooled: {sum(hopla.values())} and {sum(reference.values())} requests"
    )
    return [p50, p99]


# --- W1 deep page: limit/offset against a cursor at the same row ------------------------------------

# How deep, as a share of all tickets: offset 90 000 of 100 000 (4 500 of 5 000 in the quick run).
DEEP_SHARE = 0.9


@dataclass(frozen=True)
class DeepPage:
    name: str
    offset_query: str
    cursor_query: str


def deep_page(user: User, tickets: int) -> DeepPage:
    """The default list at offset 90 % by limit/offset, and a cursor that starts at the same row.

    The cursor is built from the row before (as the previous page's `next` would be), not walked to.
    """
    offset = int(tickets * DEEP_SHARE)
    cursor = keyset.cursor_at(TicketFilter({}, queryset=ticket_list(user=user)).qs, offset)
    return DeepPage(f"W1 deep page @{offset}", f"{LIST_QUERY}&offset={offset}", f"{LIST_QUERY}&cursor={cursor}")


def deep_page_check(deep: DeepPage, token: str) -> tuple[int, int]:
    """Checks that both answer the same tickets; returns the query counts (offset, cursor)."""
    offset_status, offset_body, offset_sql = in_process(
        HttpWorkload(deep.name, "GET", deep.offset_query), API_PATH, token
    )
    cursor_status, cursor_body, cursor_sql = in_process(
        HttpWorkload(deep.name, "GET", deep.cursor_query), API_PATH, token
    )
    if offset_status != 200 or cursor_status != 200 or offset_body["results"] != cursor_body["results"]:
        raise SystemExit(f"{deep.name}: the cursor page is not the offset page ({offset_status}/{cursor_status})")
    return len(offset_sql), len(cursor_sql)


def deep_page_run(deep: DeepPage, *, base_url: str, token: str, rounds: int, seconds: float, rows: list[Row]) -> None:
    """One connection each, interleaved: what one client waits for a page that deep. `hopla` is the
    limit/offset page, `reference` the cursor page, so the ratio is how much more the offset costs."""
    by_offset = Request("GET", API_PATH + deep.offset_query, token, None)
    by_cursor = Request("GET", API_PATH + deep.cursor_query, token, None)
    note = "hopla: ?offset=; reference: ?cursor= at the same row"
    throughput = Row(deep.name, "req/s (1 conn)", note=note)
    p50 = Row(deep.name, "p50 ms (1 conn)")
    p99 = Row(deep.name, "p99 ms (1 conn)")
    for request in (by_offset, by_cursor):
        run_wrk(base_url, request, connections=1, seconds=1)
    errors = 0
    pooled: dict[Request, Counter[int]] = {by_offset: Counter(), by_cursor: Counter()}
    for number in range(rounds):
        order = [by_offset, by_cursor] if number % 2 == 0 else [by_cursor, by_offset]
        single = {request: run_wrk(base_url, request, connections=1, seconds=seconds) for request in order}
        errors += sum(result.errors for result in single.values())
        throughput.add(single[by_offset].requests_per_second, single[by_cursor].requests_per_second)
        for request, result in single.items():
            pooled[request].update(result.latencies_us)
    if errors:
        throughput.note += f"; {errors} errors"
    rows += [throughput, *_pooled_percentiles(p50, p99, pooled[by_offset], pooled[by_cursor])]
