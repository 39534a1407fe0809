"""W9: data in and out. The export against PostgreSQL's own COPY of the same rows, with the web
processes' memory watched; an idempotent POST against the same POST without a key.

Export: `GET /api/v1/tickets/export/?format=csv` of every ticket the bench user sees (all of them),
read as it streams, against `COPY (SELECT <the same columns, joins and order>) TO STDOUT WITH CSV`
read by psycopg in this process: rows/s of each, interleaved rounds. Meanwhile a thread samples the
resident memory of every web process; the growth is the largest of any of them over its own
resident size before the export (the export runs in one of them).

Import: a GitHub issues list of `tickets` issues POSTed to a project's imports, run by the worker;
tickets/s from the POST to `succeeded` (target >= 500/s, no reference).

Idempotent POST: the W3 creation with a fresh `Idempotency-Key` each time against the same creation
without one, one connection, interleaved rounds: p50 and statements per request.
"""

import json
import statistics
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import User
from bench.report import Row
from tickets.models import Project

EXPORT_PATH = "/api/v1/tickets/export/?format=csv"
COPY_SQL = (
    "COPY (SELECT t.key, t.title, t.status, t.priority, t.labels, a.email, r.email, t.due_date, t.created_at,"
    " t.updated_at, t.closed_at, t.description FROM tickets_ticket t"
    " LEFT JOIN accounts_user a ON a.id = t.assignee_id LEFT JOIN accounts_user r ON r.id = t.reporter_id"
    " WHERE t.project_id IN (SELECT project_id FROM tickets_membership WHERE user_id = %s)"
    " ORDER BY t.created_at DESC, t.id DESC) TO STDOUT WITH CSV HEADER"
)
SAMPLE_SECONDS = 0.02


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def web_pids(port: int) -> list[int]:
    """The processes serving `port`: the one whose command line names it, and its children."""
    named, parents = [], {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            parents[int(entry.name)] = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if f":{port}" in command or f"--port {port}" in command:
            named.append(int(entry.name))
    return sorted({*named, *(pid for pid, parent in parents.items() if parent in named)})


class MemoryWatch:
    """Samples the resident memory of `pids` in a thread; `growth_mib` is the largest rise of any of them."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.before = {pid: _rss_kib(pid) for pid in pids}
        self.peak = dict(self.before)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "MemoryWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            for pid in self.pids:
                self.peak[pid] = max(self.peak[pid], _rss_kib(pid))

    @property
    def growth_mib(self) -> float:
        return max((self.peak[pid] - self.before[pid]) / 1024 for pid in self.pids) if self.pids else 0.0


def _export_over_http(base_url: str, token: str) -> tuple[int, float, int]:
    """(rows, seconds, bytes) of one streamed export, read chunk by chunk as a client would."""
    started = time.perf_counter()
    size = newlines = 0
    with (
        httpx.Client(timeout=600, trust_env=False) as client,
        client.stream("GET", base_url + EXPORT_PATH, headers={"Authorization": f"Bearer {token}"}) as response,
    ):
        assert response.status_code == 200, response.read()[:300]
        for chunk in response.iter_bytes():
            size += len(chunk)
            newlines += chunk.count(b"\r\n")  # row ends; quoted multi-line descriptions add a few
    return newlines - 1, time.perf_counter() - started, size


def _copy(user: User) -> tuple[float, int]:
    started = time.perf_counter()
    size = 0
    with connection.cursor() as cursor, cursor.connection.cursor().copy(COPY_SQL, [user.pk]) as copy:
        for block in copy:
            size += len(block)
    return time.perf_counter() - started, size


def run_export(*, base_url: str, user: User, token: str, tickets: int, rounds: int, rows: list[Row]) -> None:
    pids = web_pids(int(base_url.rsplit(":", 1)[1]))
    speed = Row("W9 export", "rows/s vs COPY")
    memory = Row("W9 export", "peak RSS growth MiB", note=f"{len(pids)} web processes watched; target <= 50")
    for index in range(rounds):
        with MemoryWatch(pids) as watch:
            exported, seconds, size = _export_over_http(base_url, token)
        copy_seconds, copy_size = _copy(user)
        speed.add(tickets / seconds, tickets / copy_seconds)
        memory.add(watch.growth_mib, 0)
        print(
            f"round {index + 1}: export {tickets} rows ({exported} line ends) {size / 1e6:.1f} MB in {seconds:.2f} s,"
            f" COPY {copy_size / 1e6:.1f} MB in {copy_seconds:.2f} s; RSS growth {watch.growth_mib:.1f} MiB",
            flush=True,
        )
    speed.note = "target >= 0.3"
    speed.note_spread()
    rows.extend([speed, memory])


def _post_latency_ms(client: httpx.Client, base_url: str, token: str, body: dict[str, Any], keyed: bool) -> float:
    headers = {"Authorization": f"Bearer {token}"}
    if keyed:
        headers["Idempotency-Key"] = uuid.uuid4().hex
    started = time.perf_counter()
    response = client.post(base_url + "/api/v1/tickets/", json=body, headers=headers)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 201, response.text[:300]
    return elapsed


# Transaction control Django logs beside the statements (a keyed POST runs in one transaction).
TRANSACTION_CONTROL = ("BEGIN", "COMMIT")


def _statements(user: User, body: dict[str, Any], keyed: bool) -> tuple[int, int]:
    """(statements, BEGIN/COMMIT) Django logs for one creation, without the user lookup."""
    client = APIClient()
    client.force_authenticate(user)
    headers = {"Idempotency-Key": uuid.uuid4().hex} if keyed else {}
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/api/v1/tickets/", body, format="json", headers=headers)
    assert response.status_code == 201, response.content[:300]
    logged = [query["sql"] for query in queries.captured_queries]
    control = sum(1 for sql in logged if sql in TRANSACTION_CONTROL)
    return len(logged) - control, control


def run_idempotent_post(
    *, base_url: str, user: User, token: str, project: Project, rounds: int, requests: int, rows: list[Row]
) -> None:
    body = {"project": project.key, "title": "Bench idempotent ticket"}
    latency = Row("W9 keyed POST", "p50 ms vs no key", note="target <= 1.2")
    with httpx.Client(timeout=30, trust_env=False) as client:
        for index in range(rounds):
            keyed_first = index % 2 == 0
            samples: dict[bool, list[float]] = {True: [], False: []}
            for _ in range(requests):
                for keyed in (keyed_first, not keyed_first):
                    samples[keyed].append(_post_latency_ms(client, base_url, token, body, keyed))
            latency.add(statistics.median(samples[True]), statistics.median(samples[False]))
    latency.note_spread()
    (keyed_count, keyed_control), (plain_count, plain_control) = (
        _statements(user, body, True),
        _statements(user, body, False),
    )
    statements = Row(
        "W9 keyed POST",
        "statements/request vs no key",
        note=f"target <= +1; besides them BEGIN/COMMIT: {keyed_control} keyed, {plain_control} without a key",
    )
    statements.add(keyed_count, plain_count)
    rows.extend([latency, statements])


def _github_issues(count: int) -> bytes:
    issues = [
        {
            "number": number,
            "title": f"Imported issue {number}",
            "body": "Steps to reproduce, expected, actual. " * 5,
            "state": "open" if number % 3 else "closed",
            "labels": [{"name": "bug"}, {"name": "priority: high" if number % 2 else "p3"}],
            "assignee": None,
        }
        for number in range(1, count + 1)
    ]
    return json.dumps(issues).encode()


def run_import(*, base_url: str, token: str, issues: int, rows: list[Row]) -> None:
    """Into a project of its own, created through the API (its creator is its admin, as importers must be)."""
    content = _github_issues(issues)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(timeout=60, trust_env=False) as client:
        key = "IMP" + uuid.uuid4().hex[:6].upper().replace("0", "A")
        created = client.post(f"{base_url}/api/v1/projects/", headers=headers, json={"key": key, "name": "Imported"})
        assert created.status_code == 201, created.text[:300]
        url = f"{base_url}/api/v1/projects/{created.json()['id']}/imports/"
        started = time.perf_counter()
        response = client.post(
            url, headers=headers, data={"format": "github-json"}, files={"file": ("issues.json", content)}
        )
        assert response.status_code == 202, response.text[:300]
        progress = f"{url}{response.json()['id']}/"
        while (state := client.get(progress, headers=headers).json())["status"] in ("pending", "running"):
            time.sleep(0.05)
        seconds = time.perf_counter() - started
    assert state["status"] == "succeeded", state
    assert state["created"] == issues, state
    speed = Row("W9 import", "tickets/s (GitHub JSON)", note=f"{issues} issues, POST to succeeded; target >= 500")
    speed.hopla.append(issues / seconds)
    rows.append(speed)
    print(f"import: {issues} issues in {seconds:.2f} s ({len(content) / 1e6:.1f} MB)", flush=True)
