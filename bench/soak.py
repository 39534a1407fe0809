"""A bounded soak: 50 virtual users for 60 s of mixed work against real processes, then a loss audit.

`python -m bench.soak` (or `make soak`) starts, all on loopback and all its own: a Redis, the fake
Cloudinary (tickets/tests/fake_cloudinary.py), a webhook receiver (bench.webhook_receiver), a fresh
PostgreSQL database (`hopla_soak`, dropped and migrated), `uvicorn hopla.asgi:application` and the
Procfile's worker. Each project has a webhook for every event. Virtual users list, filter, create
tickets, comment and upload images over keep-alive HTTP/1.1 (a small asyncio client: no new
dependency) while WebSocket dashboards listen. Then it prints requests by kind, 5xx and hangs, whether
every created ticket is still there, every event expected against received per listener and per
webhook (each delivery's signature checked with `standardwebhooks`), and the server's RSS at start,
middle and end. It exits non-zero if any of those checks fails, and stops every
process it started (each in a session of its own, signalled as a group) whatever happens.
"""

import argparse
import asyncio
import contextlib
import io
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.processes import procfile_command, webhook_receiver
from bench.webhook_receiver import Records

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PROJECTS = 5
LISTENERS_PER_PROJECT = 2
REQUEST_TIMEOUT = 30.0


# --- Processes ------------------------------------------------------------------------------------


def free_port() -> int:
    with contextlib.closing(socket.socket()) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


class Process:
    """A subprocess in a session of its own, logging to a file, stopped through its process group."""

    def __init__(self, name: str, command: list[str], log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def rss_kib(self) -> int:
        """Resident set size of the process (VmRSS in /proc/<pid>/status), in KiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self) -> None:
        # RQ's work horse leaves its parent's group (os.setpgrp): signal the groups of the children too.
        groups = {self.pid, *(_group_of(pid) for pid in _children(self.pid))} - {os.getpgrp(), 0}
        self._signal(groups, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)
        self._signal(groups, signal.SIGKILL)  # whatever is left of any of the groups
        self.popen.wait()

    @staticmethod
    def _signal(groups: set[int], sig: int) -> None:
        for group in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, sig)


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(stat.read_text().rpartition(")")[2].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def _group_of(pid: int) -> int:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return 0


def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def _port_answers(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


# --- A small keep-alive HTTP/1.1 client on asyncio streams ---------------------------------------


class HttpClient:
    """One connection, reopened when the server closes it; JSON in and out, multipart for uploads."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"", content_type: str = "") -> tuple[int, bytes]:
        for attempt in (1, 2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
            head = (
                f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\nAuthorization: Bearer {self.token}\r\n"
                f"Content-Length: {len(body)}\r\n" + (f"Content-Type: {content_type}\r\n" if content_type else "")
            )
            try:
                self.writer.write(head.encode() + b"\r\n" + body)
                await self.writer.drain()
                return await self._response()
            except (ConnectionError, asyncio.IncompleteReadError):
                # The server closed an idle keep-alive connection: one new try on a fresh one.
                await self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _response(self) -> tuple[int, bytes]:
        assert self.reader is not None
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                body += await self.reader.readexactly(size)
                await self.reader.readexactly(2)
            await self.reader.readexactly(2)
        else:
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, body

    async def json(self, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        body = b"" if payload is None else json.dumps(payload).encode()
        status, content = await self.request(method, path, body, "application/json" if payload is not None else "")
        try:
            return status, json.loads(content) if content else None
        except ValueError:
            return status, None

    async def upload(self, path: str, filename: str, data: bytes) -> tuple[int, Any]:
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{filename}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        status, content = await self.request("POST", path, body, f"multipart/form-data; boundary={boundary}")
        return status, json.loads(content) if content else None

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None


# --- The world and the load -------------------------------------------------------------------------


@dataclass
class Member:
    user_id: str
    token: str
    project_id: str
    project_key: str


@dataclass
class Tally:
    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)
    other_errors: list[str] = field(default_factory=list)
    created_tickets: list[str] = field(default_factory=list)
    uploaded_images: list[str] = field(default_factory=list)


def png(seed: int) -> bytes:
    from PIL import Image as PillowImage

    picture = PillowImage.new("RGB", (320, 240), (seed * 37 % 256, seed * 91 % 256, seed * 13 % 256))
    output = io.BytesIO()
    picture.save(output, format="PNG")
    return output.getvalue()


async def virtual_user(number: int, member: Member, port: int, until: float, tally: Tally) -> None:
    """Think, then one of: list, filter, detail, create, comment, upload; until the deadline."""
    rng = random.Random(number)
    client = HttpClient(port, member.token)
    mine: list[str] = []
    kinds = ["list", "filter", "detail", "create", "comment", "upload"]
    weights = [25, 20, 10, 20, 18, 7]
    loop = asyncio.get_running_loop()
    try:
        while loop.time() < until:
            await asyncio.sleep(rng.uniform(0.2, 0.8))
            kind = rng.choices(kinds, weights)[0]
            if kind in ("detail", "comment", "upload") and not mine:
                kind = "create"
            try:
                status, body = await asyncio.wait_for(_one(kind, client, member, mine, rng, number), REQUEST_TIMEOUT)
            except TimeoutError:
                tally.hangs.append(f"{kind} after {REQUEST_TIMEOUT} s")
                await client.close()
                continue
            except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                tally.other_errors.append(f"{kind}: {type(error).__name__}: {error}")
                await client.close()
                continue
            tally.requests[kind] += 1
            tally.statuses[f"{status // 100}xx"] += 1
            if status >= 500:
                tally.server_errors.append(f"{kind} {status} {str(body)[:200]}")
            elif kind == "create" and status == 201:
                mine.append(body["key"])
                tally.created_tickets.append(body["id"])
            elif kind == "upload" and status == 202:
                tally.uploaded_images.append(body["id"])
    finally:
        await client.close()


async def _one(kind: str, client: HttpClient, member: Member, mine: list[str], rng: random.Random, n: int) -> Any:
    tickets = "/api/v1/tickets/"
    if kind == "list":
        return await client.json("GET", f"{tickets}?limit=25&offset={rng.choice([0, 0, 25])}")
    if kind == "filter":
        query = rng.choice(
            [
                f"project={member.project_key}&status=open,in_progress&ordering=-priority,created_at",
                f"project={member.project_id}&priority=high,urgent&assignee=none",
                "reporter=me&ordering=-updated_at&limit=10",
                f"project={member.project_key}&search=printer",
                "label=soak&overdue=true",
            ]
        )
        return await client.json("GET", f"{tickets}?{query}")
    if kind == "detail":
        return await client.json("GET", f"{tickets}{rng.choice(mine)}/")
    if kind == "create":
        payload = {
            "project": member.project_key,
            "title": f"Printer {rng.randrange(10_000)} jams again",
            "description": "Seen during the soak. " * rng.randrange(1, 20),
            "priority": rng.choice(["low", "medium", "high", "urgent"]),
            "labels": ["soak"],
        }
        return await client.json("POST", tickets, payload)
    if kind == "comment":
        return await client.json("POST", f"{tickets}{rng.choice(mine)}/comments/", {"body": "Still jammed."})
    return await client.upload(f"{tickets}{rng.choice(mine)}/images/", f"shot-{n}.png", png(rng.randrange(256)))


@dataclass
class Listener:
    """A dashboard on one WebSocket: the seq of every event it received."""

    name: str
    member: Member
    received: list[int] = field(default_factory=list)
    closed: str | None = None


async def listen(listener: Listener, port: int, ready: asyncio.Event, stop: asyncio.Event) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    url = f"ws://{HOST}:{port}/ws/v1/events/?token={listener.member.token}"
    async with connect(url, proxy=None, open_timeout=10, max_size=None) as stream:
        hello = json.loads(await stream.recv())
        assert hello["type"] == "hello", hello
        ready.set()
        while not stop.is_set():
            try:
                message = json.loads(await asyncio.wait_for(stream.recv(), 0.5))
            except TimeoutError:
                continue
            except ConnectionClosed as closed:
                listener.closed = str(closed)
                return
            if message.get("type") == "event":
                listener.received.append(message["event"]["seq"])


# --- Setup and audit (Django ORM in this process, on the soak database) --------------------------


def prepare_database(database_url: str, env: dict[str, str], log_dir: Path) -> None:
    import psycopg
    from psycopg import sql

    name = database_url.rsplit("/", 1)[1]
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with (log_dir / "migrate.log").open("wb") as log:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, stdout=log, check=True)


@dataclass(frozen=True)
class Hook:
    """A project's webhook: its path at the receiver (/hooks/<name>) and its secret."""

    project_id: str
    name: str
    secret: str


def make_world(virtual_users: int, receiver_url: str) -> tuple[list[Member], list[Member], list[Hook]]:
    """PROJECTS projects, each with a webhook for every event; the virtual users spread over them as
    members, two viewers each listening."""
    from django.contrib.auth.hashers import make_password
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User
    from tickets.models import Membership, Project, Role
    from webhooks.services import webhook_create

    password = make_password("soak-password-not-used")
    owner = User.objects.create(email="owner@soak.test", full_name="Soak Owner", password=password)
    projects = [
        Project.objects.create(key=f"SOAK{index}", name=f"Soak {index}", created_by=owner) for index in range(PROJECTS)
    ]
    hooks = []
    for project in projects:
        Membership.objects.create(project=project, user=owner, role=Role.ADMIN)
        webhook = webhook_create(project=project, actor=owner, url=f"{receiver_url}/hooks/{project.key}", events=["*"])
        hooks.append(Hook(str(project.pk), project.key, webhook.secret))

    def member(email: str, project: Project, role: str) -> Member:
        user = User.objects.create(email=email, full_name=email.split("@")[0], password=password)
        Membership.objects.create(project=project, user=user, role=role)
        return Member(str(user.pk), str(AccessToken.for_user(user)), str(project.pk), project.key)

    users = [member(f"vu{n}@soak.test", projects[n % PROJECTS], Role.MEMBER) for n in range(virtual_users)]
    watchers = [
        member(f"watch{p}-{n}@soak.test", project, Role.VIEWER)
        for p, project in enumerate(projects)
        for n in range(LISTENERS_PER_PROJECT)
    ]
    return users, watchers, hooks


@dataclass
class Soak:
    virtual_users: int
    seconds: float
    log_dir: Path
    database_url: str
    processes: list[Process] = field(default_factory=list)

    def start(self, name: str, command: list[str], env: dict[str, str] | None = None) -> Process:
        process = Process(name, command, self.log_dir, env)
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def run(soak: Soak) -> bool:
    from tickets.tests.fake_cloudinary import FakeCloudinary

    redis_port, web_port = free_port(), free_port()
    redis_url = f"redis://{HOST}:{redis_port}/0"
    with FakeCloudinary() as cloudinary, webhook_receiver(soak.log_dir) as receiver_url:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "hopla.settings.base",
            "DATABASE_URL": soak.database_url,
            "REDIS_URL": redis_url,
            "CLOUDINARY_URL": cloudinary.cloudinary_url,
            "IMAGE_RETRY_INTERVALS": "1,2,5",
            # The receiver is on loopback over plain http, which hopla refuses unless told (SPEC §9).
            "WEBHOOK_ALLOW_HTTP": "true",
            "WEBHOOK_ALLOWED_NETWORKS": f"{HOST}/32",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        shared = (
            "DJANGO_SETTINGS_MODULE",
            "DATABASE_URL",
            "REDIS_URL",
            "WEBHOOK_ALLOW_HTTP",
            "WEBHOOK_ALLOWED_NETWORKS",
        )
        os.environ.update({key: env[key] for key in shared})
        soak.start(
            "redis",
            ["redis-server", "--port", str(redis_port), "--bind", HOST, "--save", "", "--appendonly", "no"],
        )
        wait_until(lambda: _port_answers(redis_port), 10, "redis-server")
        prepare_database(soak.database_url, env, soak.log_dir)
        import django

        django.setup()
        users, watchers, hooks = make_world(soak.virtual_users, receiver_url)
        web = soak.start(
            "web",
            [sys.executable, "-m", "uvicorn", "hopla.asgi:application", "--host", HOST, "--port", str(web_port)],
            env,
        )
        # Nothing here starts a recycled worker again: it runs without recycling.
        soak.start("worker", procfile_command("worker", {**env, "WORKER_MAX_JOBS": "0"}), env)
        wait_until(lambda: _port_answers(web_port), 30, "the web server")
        return asyncio.run(load(soak, web, web_port, users, watchers, cloudinary, hooks, Records(receiver_url)))


async def load(
    soak: Soak,
    web: Process,
    port: int,
    users: list[Member],
    watchers: list[Member],
    cloudinary: Any,
    hooks: list[Hook],
    records: Records,
) -> bool:
    from asgiref.sync import sync_to_async

    listeners = [Listener(f"{w.project_key}/{w.user_id[:8]}", w) for w in watchers]
    stop = asyncio.Event()
    readiness = [asyncio.Event() for _ in listeners]
    listening = [
        asyncio.create_task(listen(listener, port, ready, stop))
        for listener, ready in zip(listeners, readiness, strict=True)
    ]
    await asyncio.wait_for(asyncio.gather(*(ready.wait() for ready in readiness)), 30)
    baseline = await sync_to_async(_last_seq)()
    tally = Tally()
    loop = asyncio.get_running_loop()
    rss = {"start": web.rss_kib()}
    started = loop.time()
    until = started + soak.seconds
    print(
        f"soak: {soak.virtual_users} virtual users, {len(listeners)} listeners, {soak.seconds:.0f} s on {HOST}:{port}"
    )

    async def sample() -> None:
        """RSS halfway; the most database connections (all processes) seen, once a second."""
        halfway = started + soak.seconds / 2
        while loop.time() < until:
            await asyncio.sleep(1)
            peak["db_connections"] = max(peak["db_connections"], await sync_to_async(_database_connections)())
            if "middle" not in rss and loop.time() >= halfway:
                rss["middle"] = web.rss_kib()

    peak = {"db_connections": 0}
    sampler = asyncio.create_task(sample())
    await asyncio.gather(*(virtual_user(n, member, port, until, tally) for n, member in enumerate(users)), sampler)
    elapsed = loop.time() - started
    rss["end"] = web.rss_kib()

    # Let the worker finish the images, then give the last events time to arrive: up to two sweeps
    # of the worker's outbox, which pushes again an event whose publish was lost.
    drained = await sync_to_async(_images_settled)(tally.uploaded_images, 60)
    deadline = loop.time() + 12
    while loop.time() < deadline and not await sync_to_async(_all_delivered)(listeners, baseline):
        await asyncio.sleep(0.5)
    stop.set()
    await asyncio.gather(*listening, return_exceptions=True)
    # Deliveries take longer than the WebSocket: the worker's dispatch, then a POST each, one webhook's in order.
    deadline = loop.time() + 60
    while loop.time() < deadline and not await sync_to_async(_webhooks_delivered)(hooks, records, baseline):
        await asyncio.sleep(1)
    audit = await sync_to_async(_audit)(tally, listeners, baseline)
    audit["peak_db_connections"] = peak["db_connections"]
    audit["webhooks"] = await sync_to_async(_webhook_audit)(hooks, records, baseline)
    return report(soak, tally, elapsed, rss, listeners, audit, drained, cloudinary)


def _last_seq() -> int:
    from django.db.models import Max

    from tickets.models import Event

    return int(Event.objects.aggregate(last=Max("seq"))["last"] or 0)


def _database_connections() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def _images_settled(image_ids: list[str], timeout: float) -> bool:
    from tickets.models import Image, ImageStatus

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Image.objects.filter(pk__in=image_ids, status__in=[ImageStatus.PENDING, ImageStatus.PROCESSING]):
            return True
        time.sleep(0.2)
    return False


def _all_delivered(listeners: list[Listener], baseline: int) -> bool:
    from tickets.models import Event

    return all(
        set(Event.objects.filter(project_id=listener.member.project_id, seq__gt=baseline).values_list("seq", flat=True))
        <= set(listener.received)
        for listener in listeners
    )


def _event_ids(project_id: str, baseline: int) -> set[str]:
    from tickets.models import Event

    return {
        str(pk) for pk in Event.objects.filter(project_id=project_id, seq__gt=baseline).values_list("id", flat=True)
    }


def _webhooks_delivered(hooks: list[Hook], records: Records, baseline: int) -> bool:
    arrived = {(arrival.hook, arrival.event_id) for arrival in records.arrivals()}
    return all((hook.name, event_id) in arrived for hook in hooks for event_id in _event_ids(hook.project_id, baseline))


@dataclass(frozen=True)
class HookAudit:
    expected: int
    received: int  # distinct expected events that arrived
    missing: int
    duplicates: int  # arrivals of an expected event beyond its first
    unverified: int  # arrivals whose signature `standardwebhooks` refuses


def _webhook_audit(hooks: list[Hook], records: Records, baseline: int) -> dict[str, HookAudit]:
    import standardwebhooks

    arrivals = records.arrivals()
    audits = {}
    for hook in hooks:
        expected = _event_ids(hook.project_id, baseline)
        mine = [arrival for arrival in arrivals if arrival.hook == hook.name and arrival.event_id in expected]
        received = Counter(arrival.event_id for arrival in mine)
        verifier = standardwebhooks.Webhook(hook.secret)
        unverified = 0
        for arrival in mine:
            try:
                verifier.verify(arrival.body, arrival.headers)
            except standardwebhooks.WebhookVerificationError:
                unverified += 1
        audits[hook.name] = HookAudit(
            expected=len(expected),
            received=len(received),
            missing=len(expected - received.keys()),
            duplicates=sum(received.values()) - len(received),
            unverified=unverified,
        )
    return audits


def _audit(tally: Tally, listeners: list[Listener], baseline: int) -> dict[str, Any]:
    from tickets.models import Event, Image, Ticket

    present = Ticket.objects.filter(pk__in=tally.created_tickets).count()
    images = Counter(Image.objects.filter(pk__in=tally.uploaded_images).values_list("status", flat=True))
    expected = {
        listener.name: list(
            Event.objects.filter(project_id=listener.member.project_id, seq__gt=baseline)
            .order_by("seq")
            .values_list("seq", flat=True)
        )
        for listener in listeners
    }
    return {"present": present, "images": images, "expected": expected, "db_connections": _database_connections()}


def report(
    soak: Soak,
    tally: Tally,
    elapsed: float,
    rss: dict[str, int],
    listeners: list[Listener],
    audit: dict[str, Any],
    drained: bool,
    cloudinary: Any,
) -> bool:
    total = sum(tally.requests.values())
    print(f"requests: {total} in {elapsed:.1f} s ({total / elapsed:.1f}/s)")
    for kind, count in sorted(tally.requests.items()):
        print(f"  {kind:8} {count}")
    print(f"status classes: {dict(sorted(tally.statuses.items()))}")
    print(f"5xx: {len(tally.server_errors)}" + "".join(f"\n  {line}" for line in tally.server_errors[:10]))
    print(f"hangs (no answer in {REQUEST_TIMEOUT:.0f} s): {len(tally.hangs)}")
    print(f"transport errors: {len(tally.other_errors)}" + "".join(f"\n  {e}" for e in tally.other_errors[:10]))
    print(f"created tickets: {len(tally.created_tickets)}, present afterwards: {audit['present']}")
    images = ", ".join(f"{status} {count}" for status, count in sorted(audit["images"].items()))
    print(
        f"images uploaded: {len(tally.uploaded_images)} ({images}); all settled: {drained};"
        f" fake Cloudinary holds {len(cloudinary.assets)} asset(s) after {len(cloudinary.uploads)} upload(s)"
    )
    all_received = True
    print("events per listener (expected / received / missing / duplicates):")
    for listener in listeners:
        expected = audit["expected"][listener.name]
        expected_set = set(expected)
        got = [seq for seq in listener.received if seq in expected_set]
        missing = sorted(expected_set - set(got))
        duplicates = len(got) - len(set(got))
        all_received &= not missing and not duplicates and listener.closed is None
        closed = f" closed: {listener.closed}" if listener.closed else ""
        print(f"  {listener.name:18} {len(expected):5} / {len(set(got)):5} / {len(missing):3} / {duplicates}{closed}")
    hooks_whole = True
    print("webhook deliveries per project (expected / received / missing / duplicates / signature refused):")
    for name, hook in audit["webhooks"].items():
        hooks_whole &= not hook.missing and not hook.unverified
        print(
            f"  {name:18} {hook.expected:5} / {hook.received:5} / {hook.missing:3} / {hook.duplicates}"
            f" / {hook.unverified}"
        )
    print(
        "server RSS (MiB): "
        + ", ".join(f"{moment} {kib / 1024:.1f}" for moment, kib in rss.items())
        + f"; database connections (all processes, this one included): peak {audit['peak_db_connections']},"
        f" at the end {audit['db_connections']}"
    )
    web_log = (soak.log_dir / "web.log").read_text(errors="replace")
    worker_log = (soak.log_dir / "worker.log").read_text(errors="replace")
    print(
        "server log: "
        + ", ".join(
            f"{needle!r} x{web_log.count(needle)}"
            for needle in ("Internal Server Error", "deadlock detected", "too many clients", "event publish failed")
        )
        + f"; worker log: 'deadlock detected' x{worker_log.count('deadlock detected')}"
    )
    checks = {
        "no 5xx": not tally.server_errors,
        "no hang": not tally.hangs,
        "every created ticket present": audit["present"] == len(tally.created_tickets),
        "every image settled": drained,
        "every listener received every event": all_received,
        # At least once (SPEC §9): a repeat is allowed, a loss or a bad signature is not.
        "every webhook received every event, signed": hooks_whole,
    }
    print("checks: " + ", ".join(f"{name}: {'ok' if passed else 'FAILED'}" for name, passed in checks.items()))
    print(f"logs: {soak.log_dir}")
    return all(checks.values())


@contextlib.contextmanager
def stopping_on_signals() -> Iterator[None]:
    """SIGTERM ends the soak like Ctrl-C does, so that the `finally` stops every process."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SOAK_DATABASE_URL", f"postgres://postgres@{HOST}:5432/hopla_soak"),
        help="dropped and created again: never point it at a database you care about",
    )
    arguments = parser.parse_args()
    log_dir = Path(tempfile.mkdtemp(prefix="hopla-soak-"))
    soak = Soak(arguments.users, arguments.seconds, log_dir, arguments.database_url)
    with stopping_on_signals():
        try:
            passed = run(soak)
        finally:
            soak.stop_all()
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
