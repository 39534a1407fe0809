"""W6: project events delivered to 5 webhooks on a local receiver, against a loop that POSTs the same
signed bodies with the same client.

hopla's path: PATCH over HTTP → the ticket's event row, committed → the worker's dispatch turns it into
one delivery per webhook → RQ jobs POST them, signed (Standard Webhooks) → the receiver
(bench.webhook_receiver, a process of its own, which records each arrival). Three measures:

- deliveries/s. The events are written while the worker is frozen (SIGSTOP: warm, connected, doing
  nothing), then it is let go (SIGCONT); the rate is the deliveries over the time from then to the
  receiver's last arrival, so the dispatch from the event table counts. The reference is one loop in this
  process that, for the same events (read as the WebSocket shows them), encodes each body, signs it with
  `standardwebhooks` and POSTs it, one after another, on a session of the worker's own kind (aiohttp,
  webhooks.transport.sending_session: its checks of the address connected to, no redirects, no cookies)
  to the same receiver, timed from its start
  to the receiver's last arrival. Rounds interleave, the order alternating.
- commit→receiver latency: events written at a steady `PACE` per second, the worker running; each
  arrival's time minus the event's `at` (from the body's `data`). Absolute: the target is ≤ 2 s.
- an update request's latency: PATCHes from wrk on one connection to a ticket of the project with the
  5 webhooks, against a ticket of a project with none; the webhooks' side twice, once with the worker
  delivering during the run (on 2 cores its work competes with the request's) and once with the worker
  frozen (the request alone). After each run with webhooks the bench waits until everything is
  delivered, so each run sees the delivery work it causes and only that.

Every phase counts what the receiver got against the events x webhooks expected: lost and duplicated.
"""

import asyncio
import json
import os
import signal
import statistics
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
import standardwebhooks
from django.conf import settings
from django.db.models import Max

from accounts.models import User
from bench.load import Request, run_wrk
from bench.processes import rq_worker, webhook_receiver
from bench.report import Row, percentile, pooled_percentile_ms
from bench.webhook_receiver import Arrival, Records
from tickets.models import Event, Project, Ticket
from tickets.services.event_publishing import event_payload
from webhooks.models import Delivery, DeliveryStatus, Webhook
from webhooks.services import webhook_create, webhook_delete
from webhooks.transport import sending_session

HOOKS = 5
# The worker processes W6 runs: the Procfile's one, and BENCH_W6_WORKERS - 1 more of the same command
# (a deployment with a worker per core: the Procfile's `worker` scaled, as RQ scales, by processes).
WORKERS = int(os.environ.get("BENCH_W6_WORKERS", "1"))
PACE = 20  # events per second in the latency phase: 100 deliveries/s, a busy project's pace
TICKETS = 5  # the project's tickets the PATCHes take in turn
_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class _Hook:
    webhook: Webhook
    name: str  # its path at the receiver: /hooks/<name>
    signer: standardwebhooks.Webhook


class _Writer:
    """Ticket updates through the API, one at a time, each changing a title (so each writes an event)."""

    def __init__(self, base_url: str, token: str, keys: list[str]) -> None:
        self._client = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        self._keys = keys
        self._run = uuid.uuid4().hex[:8]
        self._written = 0

    def update(self) -> None:
        key = self._keys[self._written % len(self._keys)]
        self._written += 1
        response = self._client.patch(f"/api/v1/tickets/{key}/", json={"title": f"Webhook {self._run} {self._written}"})
        if response.status_code != 200:
            raise SystemExit(f"W6: PATCH {key} answered {response.status_code}: {response.text[:200]}")


@dataclass(frozen=True)
class _Tally:
    delivered: int  # distinct (webhook, event) pairs that arrived
    lost: int
    duplicated: int  # arrivals beyond the first of their pair


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, every thread included (/proc/<pid>/stat fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _last_seq() -> int:
    return int(Event.objects.aggregate(last=Max("seq"))["last"] or 0)


def _events_after(project: Project, seq: int) -> list[Event]:
    return list(Event.objects.filter(project=project, seq__gt=seq).select_related("actor").order_by("seq"))


def _tally(arrivals: list[Arrival], hooks: list[_Hook], events: list[Event]) -> _Tally:
    expected = {(hook.name, str(event.id)) for hook in hooks for event in events}
    counted = Counter((arrival.hook, arrival.event_id) for arrival in arrivals)
    return _Tally(
        delivered=len(expected & counted.keys()),
        lost=len(expected - counted.keys()),
        duplicated=sum(count - 1 for count in counted.values()),
    )


def _collected(receiver: Records, hooks: list[_Hook], events: list[Event]) -> tuple[list[Arrival], _Tally]:
    """The arrivals and their tally, once every (webhook, event) pair has arrived or a slow engine's
    time (20 deliveries/s) is up: what is missing then is lost. The count the receiver answers is of
    arrivals, and a straggler of an earlier phase (arrived after its `clear`) counts in it too, so once
    the count is reached the pairs themselves are checked until the time is up: a count alone had
    ended the wait early and called late deliveries lost (06:04, pending with no attempt yet)."""
    expected = len(events) * len(hooks)
    deadline = time.monotonic() + 30 + expected / 20
    receiver.wait_for(expected, deadline - time.monotonic())
    arrivals = receiver.arrivals()
    tally = _tally(arrivals, hooks, events)
    while tally.lost and time.monotonic() < deadline:
        time.sleep(1)
        arrivals = receiver.arrivals()
        tally = _tally(arrivals, hooks, events)
    if tally.lost:
        _print_missing(arrivals, hooks, events)
    return arrivals, tally


def _print_missing(arrivals: list[Arrival], hooks: list[_Hook], events: list[Event]) -> None:
    """What the rows say of the deliveries that did not arrive in time: pending for a retry (an attempt
    failed, and why), never made, or succeeded without the receiver recording it."""
    arrived = {(arrival.hook, arrival.event_id) for arrival in arrivals}
    by_webhook = {hook.webhook.pk: hook.name for hook in hooks}
    rows = Delivery.objects.filter(webhook__in=[hook.webhook for hook in hooks], event_id__in=[e.id for e in events])
    made = set()
    for delivery in rows.only("webhook_id", "event_id", "status", "attempts", "next_attempt_at", "last_error"):
        made.add((by_webhook[delivery.webhook_id], str(delivery.event_id)))
        if (by_webhook[delivery.webhook_id], str(delivery.event_id)) not in arrived:
            print(
                f"W6: not arrived: hook {by_webhook[delivery.webhook_id]} event {delivery.event_id}: {delivery.status},"
                f" {delivery.attempts} attempts, next {delivery.next_attempt_at}, error {delivery.last_error[:200]!r}",
                flush=True,
            )
    never = {(hook.name, str(event.id)) for hook in hooks for event in events} - made
    if never:
        print(f"W6: {len(never)} (webhook, event) pairs have no delivery row", flush=True)


def _rate(tally: _Tally, arrivals: list[Arrival], started: float) -> float:
    """Deliveries per second from `started` (time.time()) to the last arrival."""
    seconds = max((arrival.at for arrival in arrivals), default=started) - started
    return tally.delivered / seconds if seconds > 0 else 0.0


def _settle(hooks: list[_Hook], timeout: float = 60) -> None:
    """Until no delivery of the hooks is pending: the worker is idle (nothing in flight to freeze)."""
    deadline = time.monotonic() + timeout
    pending = Delivery.objects.filter(webhook__in=[hook.webhook for hook in hooks], status=DeliveryStatus.PENDING)
    while pending.exists() and time.monotonic() < deadline:
        time.sleep(_POLL_SECONDS)


@contextmanager
def _frozen(workers: list[subprocess.Popen[bytes]], hooks: list[_Hook]) -> Iterator[None]:
    """The workers stopped (SIGSTOP) once idle, and let go (SIGCONT) at the end: warm, connected, and
    doing nothing meanwhile."""
    _settle(hooks)
    for worker in workers:
        os.kill(worker.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for worker in workers:
            os.kill(worker.pid, signal.SIGCONT)


def _workers_cpu_seconds(workers: list[subprocess.Popen[bytes]]) -> float:
    return sum(_cpu_seconds(worker.pid) for worker in workers)


def _hopla_round(
    workers: list[subprocess.Popen[bytes]],
    writer: _Writer,
    receiver: Records,
    hooks: list[_Hook],
    project: Project,
    count: int,
) -> tuple[float, _Tally, list[Event], str]:
    """Deliveries per second of the worker from the moment it is let go on `count` fresh events, and
    where that time went: until the last delivery row was written (the dispatch), until the first
    arrival, and the rate from the first arrival on."""
    with _frozen(workers, hooks):
        mark = _last_seq()
        for _ in range(count):
            writer.update()
        receiver.clear()
        started, cpu_before = time.time(), _workers_cpu_seconds(workers)
    events = _events_after(project, mark)
    arrivals, tally = _collected(receiver, hooks, events)
    worker_cpu_ms = (_workers_cpu_seconds(workers) - cpu_before) * 1000 / max(tally.delivered, 1)
    times = sorted(arrival.at for arrival in arrivals) or [started]
    deliveries = Delivery.objects.filter(webhook__in=[hook.webhook for hook in hooks], event_seq__gt=mark)
    rows_written = deliveries.aggregate(last=Max("created_at"))["last"]
    dispatched = f"{rows_written.timestamp() - started:.2f} s" if rows_written else "-"
    steady = (len(times) - 1) / (times[-1] - times[0]) if times[-1] > times[0] else 0.0
    together = f" ({len(workers)} workers together)" if len(workers) > 1 else ""
    detail = (
        f"rows written after {dispatched}, first arrival {times[0] - started:.2f} s, then {steady:.0f}/s,"
        f" worker CPU {worker_cpu_ms:.2f} ms a delivery{together}"
    )
    return _rate(tally, arrivals, started), tally, events, detail


async def _signed_posts(receiver_url: str, hooks: list[_Hook], payloads: list[dict[str, Any]]) -> None:
    """The loop: each delivery as SPEC §9 shapes it (the body, the Standard Webhooks headers), POSTed
    one after another on a session of the worker's own kind (webhooks.transport.sending_session)."""
    timeout = aiohttp.ClientTimeout(total=settings.WEBHOOK_TIMEOUT_SECONDS)
    async with sending_session() as session:
        for payload in payloads:
            for hook in hooks:
                now = datetime.now(UTC)
                body = orjson.dumps({"type": payload["type"], "timestamp": now.isoformat(), "data": payload})
                headers = {
                    "content-type": "application/json",
                    "user-agent": "hopla-webhooks/1",
                    "webhook-id": payload["id"],
                    "webhook-timestamp": str(int(now.timestamp())),
                    "webhook-signature": hook.signer.sign(payload["id"], now, body),
                }
                url = f"{receiver_url}/hooks/{hook.name}"
                async with session.post(
                    url, data=body, headers=headers, allow_redirects=False, timeout=timeout
                ) as answer:
                    await answer.read()
                    if not 200 <= answer.status < 300:
                        raise SystemExit(f"W6: the receiver answered the loop {answer.status}")


def _floor_round(
    receiver: Records, receiver_url: str, hooks: list[_Hook], events: list[Event]
) -> tuple[float, _Tally, float]:
    """Deliveries per second of the loop, and its own CPU milliseconds a delivery, on the same events (built
    as the WebSocket shows them beforehand: reading the table is the outbox's part, which the loop does not
    have)."""
    payloads = [event_payload(event) for event in events]
    receiver.clear()
    started, cpu_before = time.time(), time.process_time()
    asyncio.run(_signed_posts(receiver_url, hooks, payloads))
    cpu_ms = (time.process_time() - cpu_before) * 1000 / max(len(payloads) * len(hooks), 1)
    arrivals, tally = _collected(receiver, hooks, events)
    return _rate(tally, arrivals, started), tally, cpu_ms


def _check_bodies(arrivals: list[Arrival], hooks: list[_Hook], events: list[Event]) -> None:
    """Each hook's first delivery verifies with `standardwebhooks` under that hook's secret, and its
    `data` is the event as the WebSocket shows it."""
    by_id = {str(event.id): event for event in events}
    signers = {hook.name: hook.signer for hook in hooks}
    checked: dict[str, bool] = {}
    for arrival in arrivals:
        if arrival.hook in checked or arrival.event_id not in by_id:
            continue
        try:
            body = signers[arrival.hook].verify(arrival.body, arrival.headers)
        except standardwebhooks.WebhookVerificationError as error:
            raise SystemExit(f"W6: a delivery to hook {arrival.hook} does not verify: {error}") from error
        checked[arrival.hook] = body["data"] == event_payload(by_id[arrival.event_id])
    same = "yes" if checked and all(checked.values()) else f"NO ({sum(not same for same in checked.values())} hooks)"
    print(f"deliveries verify with standardwebhooks: yes ({len(checked)} hooks); data as the WebSocket's: {same}")


def _latencies_ms(arrivals: list[Arrival]) -> list[float]:
    """Receiver time minus the event's `at`, for the first arrival of each (webhook, event)."""
    first: dict[tuple[str, str], Arrival] = {}
    for arrival in sorted(arrivals, key=lambda arrival: arrival.at):
        first.setdefault((arrival.hook, arrival.event_id), arrival)
    return [
        (arrival.at - datetime.fromisoformat(json.loads(arrival.body)["data"]["at"]).timestamp()) * 1000
        for arrival in first.values()
    ]


def _paced(writer: _Writer, receiver: Records, hooks: list[_Hook], project: Project, count: int) -> list[float]:
    """Commit→receiver milliseconds of `count` events written at PACE per second."""
    receiver.clear()
    mark = _last_seq()
    started = time.monotonic()
    for number in range(count):
        time.sleep(max(0.0, started + number / PACE - time.monotonic()))
        writer.update()
    events = _events_after(project, mark)
    arrivals, tally = _collected(receiver, hooks, events)
    _check_bodies(arrivals, hooks, events)
    print(f"paced: {len(events)} events, {tally.delivered} delivered, lost {tally.lost}, duplicated {tally.duplicated}")
    return _latencies_ms(arrivals)


def _titles_request(ticket: Ticket, token: str) -> Request:
    run = uuid.uuid4().hex[:8]
    bodies = tuple(json.dumps({"title": f"Webhook {run} {side}"}) for side in "AB")
    return Request("PATCH", f"/api/v1/tickets/{ticket.key}/", token, bodies=bodies)


@dataclass(frozen=True)
class _Side:
    """One side of the update-latency comparison: PATCHes to `ticket`, the worker running or frozen."""

    label: str
    ticket: Ticket
    hooked: bool  # the ticket's project has the webhooks
    frozen: bool = False  # the worker frozen during the run: deliveries wait until after it


def _update_latency(
    *,
    base_url: str,
    token: str,
    workers: list[subprocess.Popen[bytes]],
    receiver: Records,
    hooks: list[_Hook],
    project: Project,
    sides: list[_Side],
    rounds: int,
    seconds: float,
) -> tuple[dict[str, Counter[int]], list[float], float, _Tally]:
    """PATCH latencies on one connection per side (pooled over rounds, the order rotating), with the
    commit→receiver milliseconds of the deliveries made while the PATCHes ran, the PATCH rate then,
    and the lost and duplicated deliveries of every side with webhooks."""
    pooled: dict[str, Counter[int]] = {side.label: Counter() for side in sides}
    stream_ms: list[float] = []
    rates: list[float] = []
    delivered = lost = duplicated = errors = 0
    for number in range(rounds):
        seen: dict[str, str] = {}
        for side in sides[number % len(sides) :] + sides[: number % len(sides)]:
            request = _titles_request(side.ticket, token)
            receiver.clear()
            mark = _last_seq()
            with _frozen(workers, hooks) if side.frozen else nullcontext():
                result = run_wrk(base_url, request, connections=1, seconds=seconds)
            errors += result.errors
            pooled[side.label].update(result.latencies_us)
            seen[side.label] = f"{side.label} p50 {result.p50_ms:.1f} p99 {result.p99_ms:.1f} ms"
            if not side.hooked:
                continue
            arrivals, tally = _collected(receiver, hooks, _events_after(project, mark))
            delivered, lost, duplicated = delivered + tally.delivered, lost + tally.lost, duplicated + tally.duplicated
            if not side.frozen:
                stream_ms += _latencies_ms(arrivals)
                rates.append(result.requests_per_second)
        print(f"updates, round {number + 1}: " + ", ".join(seen[side.label] for side in sides), flush=True)
    if errors:
        raise SystemExit(f"W6: {errors} PATCH errors under wrk")
    return pooled, stream_ms, statistics.median(rates), _Tally(delivered, lost, duplicated)


def _update_rows(
    name: str, pooled: dict[str, Counter[int]], stream_ms: list[float], rate: float, tally: _Tally
) -> list[Row]:
    rows = []
    for label, what in (("live", "deliveries running"), ("frozen", "worker frozen")):
        p50 = Row(name, f"PATCH p50 ms (1 conn), {what}")
        p99 = Row(name, f"PATCH p99 ms (1 conn), {what}")
        p50.add(pooled_percentile_ms(pooled[label], 0.5), pooled_percentile_ms(pooled["bare"], 0.5))
        p99.add(pooled_percentile_ms(pooled[label], 0.99), pooled_percentile_ms(pooled["bare"], 0.99))
        p99.note = f"rounds pooled: {sum(pooled[label].values())} and {sum(pooled['bare'].values())} requests"
        rows += [p50, p99]
    rows[0].note = "ref = a ticket of a project with no webhook; hopla: its deliveries compete for the 2 cores"
    rows[2].note = "the request alone (tickets never calls webhooks): deliveries after the run"
    stream = Row(name, "commit→receiver p99 ms, during the PATCHes")
    stream.hopla = [percentile(stream_ms, 0.99)] if stream_ms else []
    stream.note = (
        f"not a target: ~{rate:.0f} events/s x {HOOKS} webhooks; lost {tally.lost}, duplicated {tally.duplicated}"
    )
    return [*rows, stream]


_DESCRIPTION = "bench W6"


def _hooks_create(project: Project, actor: User, receiver_url: str) -> list[_Hook]:
    """W6's webhooks, after deleting any an interrupted run left (`--reuse-db`): theirs pointed at a
    receiver that is gone, and every event made deliveries to them too, failing and retried, which
    doubled the worker's CPU per delivery of the next run."""
    for left in Webhook.objects.filter(description=_DESCRIPTION):
        webhook_delete(webhook=left)
    hooks = []
    for number in range(HOOKS):
        url = f"{receiver_url}/hooks/{number}"
        webhook = webhook_create(project=project, actor=actor, url=url, events=["*"], description=_DESCRIPTION)
        hooks.append(_Hook(webhook=webhook, name=str(number), signer=standardwebhooks.Webhook(webhook.secret)))
    return hooks


def _warm_up(writer: _Writer, receiver: Records, hooks: list[_Hook]) -> None:
    """One event through the whole path (connections opened, code loaded), or a clear stop."""
    receiver.clear()
    writer.update()
    receiver.wait_for(len(hooks), 30)
    if receiver.count() < len(hooks):
        raise SystemExit(
            f"W6: {receiver.count()} of {len(hooks)} deliveries arrived within 30 s of an update: is the webhooks "
            "engine (the worker's dispatch and delivery jobs) in this checkout? See the worker's log."
        )


def run(
    *,
    base_url: str,
    user: User,
    token: str,
    worker: subprocess.Popen[bytes],
    env: dict[str, str],
    events: int,
    rounds: int,
    seconds: float,
    latency_rounds: int,
    log_dir: Path,
    rows: list[Row],
) -> None:
    # The second and third projects: the first is W4's, whose 500 watchers' sockets would not matter
    # here, but whose events W4 counts.
    projects = list(Project.objects.order_by("key")[1:3])
    hooked_project, bare_project = projects
    tickets = list(Ticket.objects.filter(project=hooked_project).order_by("number")[:TICKETS])
    bare_ticket = Ticket.objects.filter(project=bare_project).order_by("number").first()
    assert bare_ticket is not None, "the seeded project has no ticket"
    name = f"W6 webhooks x{HOOKS}" + (f", {WORKERS} workers" if WORKERS > 1 else "")
    with webhook_receiver(log_dir) as receiver_url, ExitStack() as more_workers:
        workers = [worker, *(more_workers.enter_context(rq_worker(env, log_dir)) for _ in range(WORKERS - 1))]
        receiver = Records(receiver_url)
        hooks = _hooks_create(hooked_project, user, receiver_url)
        writer = _Writer(base_url, token, [ticket.key for ticket in tickets])
        try:
            _warm_up(writer, receiver, hooks)
            throughput = Row(name, "deliveries/s", note="ref = signed POSTs in a loop, same client")
            lost = Row(name, f"deliveries lost (of {events * HOOKS * rounds})", note="not a ratio")
            duplicated = Row(name, "deliveries duplicated", note="not a ratio")
            latest: list[Event] = []
            for number in range(rounds):
                measured: dict[str, tuple[float, _Tally]] = {}
                # The loop needs events: the first round's hopla side makes them.
                for side in ("hopla", "floor") if number % 2 == 0 or not latest else ("floor", "hopla"):
                    if side == "hopla":
                        rate, tally, latest, detail = _hopla_round(
                            workers, writer, receiver, hooks, hooked_project, events
                        )
                        measured[side] = (rate, tally)
                    else:
                        floor_rate, floor_tally, loop_cpu_ms = _floor_round(receiver, receiver_url, hooks, latest)
                        measured[side] = (floor_rate, floor_tally)
                (hopla_rate, hopla_tally), (floor_rate, floor_tally) = measured["hopla"], measured["floor"]
                throughput.add(hopla_rate, floor_rate)
                lost.add(hopla_tally.lost, floor_tally.lost)
                duplicated.add(hopla_tally.duplicated, floor_tally.duplicated)
                print(
                    f"round {number + 1}: hopla {hopla_rate:.0f} deliveries/s, loop {floor_rate:.0f}/s, "
                    f"ratio {hopla_rate / floor_rate if floor_rate else 0:.2f}; lost {hopla_tally.lost}/"
                    f"{floor_tally.lost}, duplicated {hopla_tally.duplicated}/{floor_tally.duplicated}; "
                    f"hopla: {detail}; loop CPU {loop_cpu_ms:.2f} ms a delivery",
                    flush=True,
                )
            throughput.note_spread()
            for row in (lost, duplicated):
                row.hopla, row.reference = [sum(row.hopla)], [sum(row.reference)]
            latencies = _paced(writer, receiver, hooks, hooked_project, events)
            paced = [Row(name, f"commit→receiver {label} ms, {PACE} events/s") for label in ("p50", "p99")]
            paced[0].hopla = [percentile(latencies, 0.5)]
            paced[1].hopla = [percentile(latencies, 0.99)]
            paced[1].note = f"target ≤ 2000 ms; max {max(latencies):.0f} ms of {len(latencies)} deliveries"
            rows += [throughput, lost, duplicated, *paced]
            sides = [
                _Side("live", tickets[0], hooked=True),
                _Side("bare", bare_ticket, hooked=False),
                _Side("frozen", tickets[0], hooked=True, frozen=True),
            ]
            latencies_by_side = _update_latency(
                base_url=base_url,
                token=token,
                workers=workers,
                receiver=receiver,
                hooks=hooks,
                project=hooked_project,
                sides=sides,
                rounds=latency_rounds,
                seconds=seconds,
            )
            rows += _update_rows(name, *latencies_by_side)
        finally:
            _settle(hooks)
            for hook in hooks:
                webhook_delete(webhook=hook.webhook)
