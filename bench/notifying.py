"""W7: a ticket with 100 watchers, updated over and over: what its watchers cost the update, and how fast
the worker's code turns the events into notifications.

- the update request: PATCHes of the watched ticket against the same PATCHes of a ticket of the same
  project with no watcher, one connection (httpx, sequential), sides interleaved round by round, the
  order alternating; once with the worker frozen (SIGSTOP: the request alone, since tickets never calls
  the notifications) and once with it running, making the notifications on the same cores meanwhile.
  Target: ≤ 1.1x.
- notifications made per second: with the worker frozen, the round's events are written by the PATCHes
  over HTTP; then `notifications.making.notifications_make` (the worker's periodic task's function, run
  in this process so that its tick interval does not count) turns them into notifications, timed until
  it has read them all. The floor inserts the same rows (the same users, events, tickets, reasons) with
  one bare `INSERT ... SELECT FROM unnest(...)` of arrays made beforehand: no watcher join, no
  membership check, no cursor, no event read. Target: ≥ 0.5x.
"""

import os
import signal
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import httpx
from django.db import connection
from django.db.models import Max

from accounts.models import User
from bench.report import Row, percentile
from notifications.making import notifications_make
from notifications.models import Notification, NotifyCursor
from tickets.models import Event, Project, Ticket, Watcher

WATCHERS = 100

_FLOOR_SQL = """
INSERT INTO notifications_notification (
    id, user_id, project_id, event_id, ticket, reason, read_at, created_at, emailed_at
)
SELECT gen_random_uuid(), row.user_id, %(project)s, row.event_id, %(ticket)s::jsonb, row.reason, NULL, row.at, NULL
FROM unnest(%(users)s::uuid[], %(events)s::uuid[], %(reasons)s::text[], %(ats)s::timestamptz[])
    AS row(user_id, event_id, reason, at)
"""


def cursor_to_newest() -> None:
    """Put the notifications' cursor at the newest event (after seeding: nothing there to notify)."""
    newest = Event.objects.aggregate(last=Max("seq"))["last"] or 0
    NotifyCursor.objects.update_or_create(pk=1, defaults={"last_seq": newest})


@contextmanager
def _frozen(worker: subprocess.Popen[bytes]) -> Iterator[None]:
    os.kill(worker.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(worker.pid, signal.SIGCONT)


def _patch_latencies_ms(client: httpx.Client, ticket: Ticket, updates: int, label: str) -> list[float]:
    latencies = []
    for number in range(updates):
        started = time.perf_counter()
        response = client.patch(f"/api/v1/tickets/{ticket.key}/", json={"title": f"W7 {label} {number}"})
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"W7: PATCH {ticket.key} answered {response.status_code}: {response.text[:200]}")
    return latencies


def _wait_until_notified(timeout: float = 60) -> None:
    """The worker (running again) has read every event: nothing of one side waits into the next."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT (SELECT MAX(seq) FROM tickets_event) <= (SELECT last_seq FROM notifications_notifycursor)"
            )
            if cursor.fetchone()[0]:
                return
        time.sleep(0.1)
    raise SystemExit("W7: the worker did not notify the events within 60 s: see its log")


def _rows_of(event_ids: list[Any]) -> dict[str, list[Any]]:
    rows = list(
        Notification.objects.filter(event_id__in=event_ids).values_list("user_id", "event_id", "reason", "created_at")
    )
    return {
        "users": [row[0] for row in rows],
        "events": [row[1] for row in rows],
        "reasons": [row[2] for row in rows],
        "ats": [row[3] for row in rows],
    }


def _make_round(
    client: httpx.Client, worker: subprocess.Popen[bytes], ticket: Ticket, updates: int
) -> tuple[float, float, int]:
    """One round of the rate: hopla's notifications per second, the floor's, and the rows made."""
    with _frozen(worker):
        _notify_in_process()  # what the worker had not read yet: the round starts clean
        mark = Event.objects.aggregate(last=Max("seq"))["last"] or 0
        _patch_latencies_ms(client, ticket, updates, "rate")
        started = time.perf_counter()
        _notify_in_process()
        hopla_seconds = time.perf_counter() - started
    events = list(Event.objects.filter(seq__gt=mark, ticket=ticket.pk).values_list("id", flat=True))
    rows = _rows_of(events)
    made = len(rows["users"])
    Notification.objects.filter(event_id__in=events).delete()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            _FLOOR_SQL,
            {"project": ticket.project_id, "ticket": f'{{"id": "{ticket.pk}", "key": "{ticket.key}"}}', **rows},
        )
    floor_seconds = time.perf_counter() - started
    Notification.objects.filter(event_id__in=events).delete()
    return made / hopla_seconds, made / floor_seconds, made


def _notify_in_process() -> None:
    """The worker's periodic task, here: every event past the cursor read, batch after batch."""
    while notifications_make():
        pass


def run(
    *,
    base_url: str,
    token: str,
    worker: subprocess.Popen[bytes],
    project: Project,
    watchers: list[Any],
    updates: int,
    rounds: int,
    rows: list[Row],
) -> None:
    watched, bare = list(Ticket.objects.filter(project=project).order_by("number")[1:3])
    # No emails: this measures making the notifications, not the mail the worker would send meanwhile.
    User.objects.filter(pk__in=[user.pk for user in watchers[:WATCHERS]]).update(notification_email="off")
    Watcher.objects.filter(ticket__in=[watched, bare]).delete()
    Watcher.objects.bulk_create([Watcher(ticket=watched, user=user) for user in watchers[:WATCHERS]])
    count = Watcher.objects.filter(ticket=watched).count()
    name = f"W7 notifications x{count}"
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        _patch_latencies_ms(client, watched, 5, "warm")
        _patch_latencies_ms(client, bare, 5, "warm")
        _wait_until_notified()
        latency: dict[tuple[str, bool], list[float]] = {}
        for number in range(rounds):
            sides = [(watched, "watched"), (bare, "bare")]
            for ticket, label in sides[number % 2 :] + sides[: number % 2]:
                for frozen in (True, False):
                    with _frozen(worker) if frozen else nullcontext():
                        latency.setdefault((label, frozen), []).extend(
                            _patch_latencies_ms(client, ticket, updates, label)
                        )
                    _wait_until_notified()
            print(f"updates, round {number + 1} done", flush=True)
        for frozen, what in ((True, "worker frozen"), (False, "worker making them")):
            for fraction, metric in ((0.5, "p50"), (0.99, "p99")):
                row = Row(name, f"PATCH {metric} ms (1 conn), {what}")
                row.add(
                    percentile(latency[("watched", frozen)], fraction), percentile(latency[("bare", frozen)], fraction)
                )
                row.note = f"ref = a ticket with no watcher; {len(latency[('watched', frozen)])} PATCHes a side"
                rows.append(row)
        rate = Row(name, "notifications made /s")
        made = 0
        for number in range(rounds):
            hopla, floor, made = _make_round(client, worker, watched, updates)
            rate.add(hopla, floor)
            print(f"rate, round {number + 1}: {hopla:.0f}/s against {floor:.0f}/s ({made} rows)", flush=True)
        rate.note = f"ref = a bare INSERT of the same {made} rows; {updates} events x {count} watchers"
        rate.note_spread()
        rows.append(rate)
    Watcher.objects.filter(ticket=watched).delete()
    print(f"W7 medians: {statistics.median(rate.hopla):.0f} against {statistics.median(rate.reference):.0f} rows/s")
