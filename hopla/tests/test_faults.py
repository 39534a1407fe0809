"""Faults on real processes: a worker killed mid-job, Redis going away, database connections dropped.

Every process (uvicorn, rqworker, redis-server) runs in a session of its own and is stopped through
its process group, as under a container runtime. The worker runs jobs in its own process (no work
horse, hopla.worker); its scheduler is a child in the same group.
"""

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import django_rq
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from accounts.tests.factories import UserFactory
from bench.processes import procfile_command
from realtime.tests.support import async_test, token_for
from tickets.models import Event, Image, ImageStatus, Role
from tickets.tests.factories import MembershipFactory, ProjectFactory, TicketFactory
from tickets.tests.fake_cloudinary import FakeCloudinary, fake_cloudinary, fake_cloudinary_server  # noqa: F401
from tickets.tests.images import png_bytes

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")
# Never through a proxy the environment may configure: every server here is on loopback.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# --- Processes ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(predicate: Callable[[], T], timeout: float, what: str) -> T:
    """Poll `predicate` until it answers something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def descendants(pid: int) -> list[int]:
    """Every live process below `pid`, read from /proc (children first met, grandchildren after)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # The command name may hold spaces and parentheses: the parent pid follows its last ")".
            fields = stat.read_text().rpartition(")")[2].split()
            parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, frontier = [], [pid]
    while frontier:
        children = parents.get(frontier.pop(), [])
        found.extend(children)
        frontier.extend(children)
    return found


def pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


class Service:
    """A subprocess in a session of its own, logging to a file; stopped (or killed) as a process group.

    A descendant may leave its parent's process group (RQ's forking worker puts each work horse in a
    group of its own), so the groups of every descendant are signalled too, not only the leader's.
    """

    def __init__(self, name: str, command: list[str], log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.orphans: list[int] = []  # descendants that outlived a kill of the leader's group alone
        self.log_path = log_dir / f"{name}-{uuid.uuid4().hex[:6]}.log"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self, *, whole_tree: bool = True) -> list[int]:
        """SIGKILL, as when a machine dies (`whole_tree`), or the leader's process group alone (what
        `kill -9 -<pgid>` or a supervisor signalling the group does). Answers the pids left alive."""
        below = descendants(self.process.pid)
        self._signal_group(signal.SIGKILL)
        if whole_tree:
            self._signal_groups_of(below, signal.SIGKILL)
        self.process.wait(timeout=10)
        # A SIGKILLed process lingers a moment while the kernel tears it down: give every signalled one
        # that moment before calling what is still running an orphan.
        deadline = time.monotonic() + 5
        while any(pid_alive(pid) for pid in below) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.orphans = [pid for pid in below if pid_alive(pid)]
        return self.orphans

    def pause(self) -> None:
        """SIGSTOP to the group: the processes freeze, holding their sockets, as in a paused VM."""
        self._signal_group(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal_group(signal.SIGCONT)

    def stop(self) -> None:
        self._signal_group(signal.SIGCONT)  # a paused process would not act on SIGTERM
        below = descendants(self.process.pid) if self.alive() else []
        if self.alive():
            self._signal_group(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.process.wait(timeout=10)
        # Whatever the leader left behind (a scheduler, any process in a group of its own) goes too.
        self._signal_group(signal.SIGKILL)
        self._signal_groups_of([*below, *self.orphans], signal.SIGKILL)

    def _signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    @staticmethod
    def _signal_groups_of(pids: list[int], sig: int) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                group = os.getpgid(pid)
                if group != os.getpgrp():
                    os.killpg(group, sig)


def app_env(redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of a web or worker process on the test database.

    Base settings with INFO logs, so that the one request line per request (with its status) and the
    job lines are written: the test settings log warnings only.
    """
    database = connection.settings_dict
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "hopla.settings.base",
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 5432}/{database['NAME']}",
        "REDIS_URL": redis_url,
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
        "IMAGE_RETRY_INTERVALS": "0,0",
        **extra,
    }


class WebServer(Service):
    """`uvicorn hopla.asgi:application`, as the Procfile runs it, on a free loopback port."""

    def __init__(self, log_dir: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws/v1/events/"
        command = [sys.executable, "-m", "uvicorn", "hopla.asgi:application", "--host", "127.0.0.1"]
        super().__init__("web", [*command, "--port", str(self.port)], log_dir, env)
        try:
            wait_until(self._serving, 30, f"the web server to serve; its log:\n{self.log()}")
        except BaseException:
            self.stop()
            raise

    def _serving(self) -> bool:
        assert self.alive(), self.log()
        try:
            with _opener.open(f"{self.base_url}/healthz", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def requests_logged(self) -> list[dict[str, Any]]:
        """hopla's one JSON line per request, each one logged so far."""
        lines = [json.loads(line) for line in self.log().splitlines() if line.startswith('{"at"')]
        return [line for line in lines if line["logger"] == "hopla.request" and "status" in line]

    def server_errors(self) -> list[str]:
        """Requests answered 5xx (but /readyz's 503, which is its job), and Django's error reports."""
        errors = [
            f"{line['method']} {line['path']} {line['status']}"
            for line in self.requests_logged()
            if line["status"] >= 500 and line["path"] != "/readyz"
        ]
        return errors + [line for line in self.log().splitlines() if "Internal Server Error" in line]


def start_worker(log_dir: Path, env: dict[str, str]) -> Service:
    """The Procfile's worker; ready once RQ says it listens."""
    worker = Service("worker", procfile_command("worker"), log_dir, env)
    try:
        wait_until(lambda: _listening(worker), 30, "the worker to listen")
    except BaseException:
        worker.stop()
        raise
    return worker


def _listening(worker: Service) -> bool:
    assert worker.alive(), worker.log()
    return "Listening on" in worker.log() or "*** Listening" in worker.log()


class RedisServer(Service):
    """A Redis of this test's own, without persistence: stopping it loses everything, as a crash would."""

    def __init__(self, log_dir: Path, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        super().__init__("redis", [*command, "--daemonize", "no"], log_dir)
        wait_until(self._answers, 10, f"redis-server on port {port}")

    def _answers(self) -> bool:
        assert self.alive(), self.log()
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as client:
                client.sendall(b"PING\r\n")
                return client.recv(16).startswith(b"+PONG")
        except OSError:
            return False


@pytest.fixture
def services(tmp_path: Path) -> Iterator[list[Service]]:
    """Register each process started; all are stopped at the end, whatever happened."""
    started: list[Service] = []
    yield started
    with ThreadPoolExecutor(max_workers=max(len(started), 1)) as stopping:
        list(stopping.map(Service.stop, started))
    # A killed process's database session ends a moment after it; the test database is dropped later.
    wait_until(lambda: other_backends() == 0, 10, "the sessions of stopped processes to end")


# --- HTTP ---------------------------------------------------------------------------------------


def call(
    server: WebServer, method: str, path: str, *, token: str | None = None, body: Any = None, timeout: float = 10
) -> tuple[int, Any, float]:
    """One request, answered as (status, parsed JSON body, seconds taken)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    return _send(urllib.request.Request(f"{server.base_url}{path}", data=data, method=method, headers=headers), timeout)


def upload(server: WebServer, ticket_key: str, token: str, data: bytes, timeout: float = 10) -> tuple[int, Any, float]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="fault.png"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        f"{server.base_url}/api/v1/tickets/{ticket_key}/images/",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    return _send(request, timeout)


def _send(request: urllib.request.Request, timeout: float) -> tuple[int, Any, float]:
    started = time.monotonic()
    try:
        with _opener.open(request, timeout=timeout) as response:
            status, content = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, content = error.code, error.read()
    elapsed = time.monotonic() - started
    try:
        parsed = json.loads(content) if content else None
    except ValueError:
        parsed = content[:500]
    return status, parsed, elapsed


# --- WebSocket ----------------------------------------------------------------------------------


class Listener:
    """A dashboard: one WebSocket, every event it received, and the last seq it saw."""

    def __init__(self, server: WebServer, token: str) -> None:
        self.server = server
        self.token = token
        self.events: list[dict[str, Any]] = []
        self.stream: ClientConnection | None = None
        self.closed_with: int | None = None

    @property
    def last_seq(self) -> int:
        return max((event["seq"] for event in self.events), default=0)

    async def open(self, resume: bool = False) -> None:
        self.stream = await self._connect()
        hello = json.loads(await asyncio.wait_for(self.stream.recv(), 5))
        assert hello["type"] == "hello", hello
        if resume:
            await self.stream.send(json.dumps({"action": "resume", "after_seq": self.last_seq}))

    async def _connect(self) -> ClientConnection:
        """Connect as a dashboard does: a refused handshake is tried again, a few times, after a pause.

        Right after Redis comes back, channels-redis' pub/sub shard may still be reconnecting its
        receive loop when a new socket subscribes its channel; redis-py then refuses the second reader
        on one connection ("read() called while another coroutine is already waiting", redis-py issue
        2722) and the handshake answers 500 once. The next attempt subscribes on the reconnected shard.
        """
        url = f"{self.server.ws_url}?token={self.token}"
        for _ in range(4):
            try:
                return await connect(url, proxy=None, open_timeout=5)
            except InvalidStatus as refusal:
                if refusal.response.status_code != 500:
                    raise
                await asyncio.sleep(0.5)
        return await connect(url, proxy=None, open_timeout=5)

    async def drain(self, seconds: float) -> None:
        """Read whatever arrives within `seconds`; notes a close instead of failing."""
        assert self.stream is not None
        deadline = asyncio.get_running_loop().time() + seconds
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            try:
                message = json.loads(await asyncio.wait_for(self.stream.recv(), left))
            except TimeoutError:
                return
            except ConnectionClosed as closed:
                self.closed_with = closed.rcvd.code if closed.rcvd else 1006
                return
            if message["type"] == "event":
                self.events.append(message["event"])

    async def wait_for_seqs(self, seqs: set[int], timeout: float) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not seqs <= {event["seq"] for event in self.events}:
            if asyncio.get_running_loop().time() > deadline or self.closed_with is not None:
                return
            await self.drain(0.1)

    async def close(self) -> None:
        if self.stream is not None:
            await self.stream.close()


def project_seqs(project_id: Any, after: int = 0) -> list[int]:
    events = Event.objects.filter(project_id=project_id, seq__gt=after).order_by("seq")
    return list(events.values_list("seq", flat=True))


# --- 1. A worker killed mid-job -----------------------------------------------------------------


def image_ready_events(image_id: str) -> int:
    return Event.objects.filter(type="image.ready", data__id=image_id).count()


def test_an_image_whose_machine_dies_mid_upload_ends_ready_once(
    tmp_path: Path,
    services: list[Service],
    fake_cloudinary: FakeCloudinary,  # noqa: F811
) -> None:
    """The worker dies mid-job with all its processes (SIGKILL to every one: a machine or container lost)."""
    server, first_worker, image_id = _upload_held_at_cloudinary(tmp_path, services, fake_cloudinary, 60)
    left_alive = first_worker.kill(whole_tree=True)
    assert left_alive == []
    # The dead worker's upload never completed: nothing was stored for it.
    wait_until(lambda: fake_cloudinary.abandoned_uploads == 1, 5, "Cloudinary to notice the client gone")
    assert fake_cloudinary.assets == {}

    started = time.monotonic()
    second_worker = start_worker(tmp_path, first_worker_env(fake_cloudinary))
    services.append(second_worker)
    final = wait_until(lambda: _finished(image_id), 30, "the image to be ready or failed after the restart")
    recovered_in = time.monotonic() - started
    assert final.status == ImageStatus.READY, final.error
    assert list(fake_cloudinary.assets) == [image_id]
    assert [record.public_id for record in fake_cloudinary.uploads] == [image_id]
    assert final.attempts >= 2
    # Twins the sweep queued meanwhile find the image ready and do nothing: wait out another sweep.
    wait_until(lambda: _quiet(second_worker), 15, "the worker to be idle")
    assert len(fake_cloudinary.uploads) == 1
    assert image_ready_events(image_id) == 1
    assert server.server_errors() == []
    print(
        f"\nmachine died mid-upload: ready {recovered_in:.1f} s after the new worker started, "
        f"attempts={final.attempts}, uploads={len(fake_cloudinary.uploads)}, "
        f"abandoned={fake_cloudinary.abandoned_uploads}"
    )


def test_killing_the_worker_process_group_leaves_no_job_running(
    tmp_path: Path,
    services: list[Service],
    fake_cloudinary: FakeCloudinary,  # noqa: F811
) -> None:
    """`kill -9 -<pgid>` of the worker: jobs run in the worker process itself (no work horse in a
    group of its own, hopla.worker), so the job dies with it and nothing is left to finish late."""
    server, first_worker, image_id = _upload_held_at_cloudinary(tmp_path, services, fake_cloudinary, 60)
    orphans = first_worker.kill(whole_tree=False)
    assert orphans == []
    wait_until(lambda: fake_cloudinary.abandoned_uploads == 1, 5, "Cloudinary to notice the client gone")
    services.append(start_worker(tmp_path, first_worker_env(fake_cloudinary)))
    final = wait_until(lambda: _finished(image_id), 30, "the image to be ready or failed after the restart")
    assert final.status == ImageStatus.READY, final.error
    assert list(fake_cloudinary.assets) == [image_id]
    assert image_ready_events(image_id) == 1
    assert server.server_errors() == []


def test_a_stalled_worker_that_wakes_after_a_takeover_records_the_image_once(
    tmp_path: Path,
    services: list[Service],
    fake_cloudinary: FakeCloudinary,  # noqa: F811
) -> None:
    """A worker frozen mid-upload (SIGSTOP: a paused VM, a long GC, a partition) past the stuck time:
    another worker's sweep takes the image over and stores it. Then the first wakes and its upload
    completes, late: it lands under the same public id (one asset) and, not being the latest attempt,
    records nothing."""
    server, first_worker, image_id = _upload_held_at_cloudinary(tmp_path, services, fake_cloudinary, 60)
    first_worker.pause()
    services.append(start_worker(tmp_path, first_worker_env(fake_cloudinary)))
    final = wait_until(lambda: _finished(image_id), 30, "the image to be ready or failed after the takeover")
    assert final.status == ImageStatus.READY, final.error
    fake_cloudinary.release_delayed_uploads()
    first_worker.resume()
    wait_until(lambda: '"image job finished"' in first_worker.log(), 20, "the woken worker to finish its job")
    print(
        f"\nstalled worker woke after a takeover: status={final.status} attempts={final.attempts}"
        f" uploads={len(fake_cloudinary.uploads)} assets={len(fake_cloudinary.assets)}"
        f" image.ready events={image_ready_events(image_id)}"
    )
    assert len(fake_cloudinary.uploads) == 2  # the takeover's and the late one
    assert list(fake_cloudinary.assets) == [image_id]
    assert server.server_errors() == []
    assert image_ready_events(image_id) == 1
    assert Image.objects.get(pk=image_id).attempts == final.attempts


def first_worker_env(fake: FakeCloudinary) -> dict[str, str]:
    return app_env(
        settings.REDIS_URL,
        CLOUDINARY_URL=fake.cloudinary_url,
        IMAGE_SWEEP_INTERVAL_SECONDS="1",
        IMAGE_STUCK_AFTER_SECONDS="2",
    )


def _upload_held_at_cloudinary(
    tmp_path: Path, services: list[Service], fake: FakeCloudinary, hold_seconds: float
) -> tuple["WebServer", Service, str]:
    """A server and a worker; an image uploaded whose job is now waiting on Cloudinary, `processing`."""
    env = first_worker_env(fake)
    admin = UserFactory()
    project = ProjectFactory(created_by=admin)
    MembershipFactory(project=project, user=admin, role=Role.ADMIN)
    ticket = TicketFactory(project=project, reporter=admin)
    server = WebServer(tmp_path, env)
    services.append(server)
    worker = start_worker(tmp_path, env)
    services.append(worker)
    fake.delay_next_uploads(1, hold_seconds)
    status, image, _ = upload(server, ticket.key, token_for(admin), png_bytes())
    assert status == 202, image
    wait_until(lambda: fake.delayed_uploads == 1, 20, "the job to reach Cloudinary")
    assert Image.objects.get(pk=image["id"]).status == ImageStatus.PROCESSING
    return server, worker, image["id"]


def _finished(image_id: str) -> Image | None:
    return Image.objects.filter(pk=image_id, status__in=[ImageStatus.READY, ImageStatus.FAILED]).first()


def _quiet(worker: Service) -> bool:
    """Nothing queued and every job the worker started has ended, for a whole sweep interval (1 s)."""
    queue = django_rq.get_queue("default")
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        log = worker.log()
        if queue.count or log.count('"image job started"') != log.count('"image job finished"'):
            return False
        time.sleep(0.1)
    return True


# --- 2. Redis down ------------------------------------------------------------------------------


@async_test
async def test_redis_down_loses_nothing_and_answers_no_500(
    tmp_path: Path,
    services: list[Service],
    fake_cloudinary: FakeCloudinary,  # noqa: F811
) -> None:
    redis_port = free_port()
    redis = await asyncio.to_thread(RedisServer, tmp_path, redis_port)
    services.append(redis)
    env = app_env(
        redis.url,
        CLOUDINARY_URL=fake_cloudinary.cloudinary_url,
        IMAGE_SWEEP_INTERVAL_SECONDS="1",
        IMAGE_STUCK_AFTER_SECONDS="1",
    )
    admin, project = await sync_to_async(_member_and_project)()
    token = token_for(admin)
    server = await asyncio.to_thread(WebServer, tmp_path, env)
    services.append(server)

    listeners = [Listener(server, token) for _ in range(2)]
    stayer = Listener(server, token)  # never reconnects: is it told, or left deaf?
    for listener in [*listeners, stayer]:
        await listener.open()
    status, before, _ = await asyncio.to_thread(
        call, server, "POST", "/api/v1/tickets/", token=token, body={"project": project, "title": "Before the outage"}
    )
    assert status == 201, before
    seen_before = set(await sync_to_async(project_seqs)(project))
    for listener in listeners:
        await listener.wait_for_seqs(seen_before, 5)
        assert {event["seq"] for event in listener.events} == seen_before

    await asyncio.to_thread(redis.stop)
    outage: dict[str, tuple[int, float]] = {}

    async def during(name: str, *args: Any, **kwargs: Any) -> Any:
        status, body, elapsed = await asyncio.to_thread(call, server, *args, token=token, **kwargs)
        outage[name] = (status, round(elapsed, 2))
        return body

    ready = await during("readyz", "GET", "/readyz")
    created = await during("ticket create", "POST", "/api/v1/tickets/", body={"project": project, "title": "In"})
    doomed = await during("ticket create 2", "POST", "/api/v1/tickets/", body={"project": project, "title": "Gone"})
    await during("ticket list", "GET", f"/api/v1/tickets/?project={project}&status=open")
    await during("ticket get", "GET", f"/api/v1/tickets/{created['key']}/")
    await during("ticket patch", "PATCH", f"/api/v1/tickets/{created['key']}/", body={"status": "in_progress"})
    await during("ticket delete", "DELETE", f"/api/v1/tickets/{doomed['key']}/")
    comments = f"/api/v1/tickets/{created['key']}/comments/"
    comment = await during("comment create", "POST", comments, body={"body": "Still here"})
    await during("comment list", "GET", comments)
    await during("comment patch", "PATCH", f"{comments}{comment['id']}/", body={"body": "Edited"})
    spare = await during("comment create 2", "POST", comments, body={"body": "To delete"})
    await during("comment delete", "DELETE", f"{comments}{spare['id']}/")
    status, image, elapsed = await asyncio.to_thread(upload, server, created["key"], token, png_bytes())
    outage["image upload"] = (status, round(elapsed, 2))
    for listener in listeners:
        await listener.drain(0.5)
    closed_during_outage = [listener.closed_with for listener in listeners]
    print(f"\nduring the Redis outage: {outage}")
    print(f"/readyz: {ready}")
    print(f"listeners closed during the outage with: {closed_during_outage}")

    assert outage.pop("readyz")[0] == 503
    assert ready["checks"]["redis"]["ok"] is False
    assert ready["checks"]["database"]["ok"] is True
    assert all(200 <= status < 300 for status, _ in outage.values()), outage
    assert outage["image upload"][0] == 202

    redis = await asyncio.to_thread(RedisServer, tmp_path, redis_port)  # back, and empty
    services.append(redis)
    await asyncio.to_thread(
        wait_until, lambda: call(server, "GET", "/readyz")[0] == 200, 10, "/readyz to answer 200 again"
    )
    services.append(await asyncio.to_thread(start_worker, tmp_path, env))
    final = await sync_to_async(_wait_for_image)(image["id"])
    assert final.status == ImageStatus.READY, final.error
    assert list(fake_cloudinary.assets) == [image["id"]]

    # Dashboards reconnect and resume from the last seq they saw: they get every event they missed.
    expected = await sync_to_async(project_seqs)(project, max(seen_before))
    assert len(expected) >= 9, expected  # 2 created, 1 updated, 1 deleted, 4 comment events, image created/ready
    for listener in listeners:
        await listener.close()
        await listener.open(resume=True)
        await listener.wait_for_seqs(set(expected), 10)
        received = [event["seq"] for event in listener.events if event["seq"] > max(seen_before)]
        assert received == expected, (received, expected)
    # And they are live again.
    status, _, _ = await asyncio.to_thread(
        call, server, "POST", "/api/v1/tickets/", token=token, body={"project": project, "title": "After"}
    )
    assert status == 201
    newest = set(await sync_to_async(project_seqs)(project, max(expected)))
    for listener in listeners:
        await listener.wait_for_seqs(newest, 5)
        assert newest <= {event["seq"] for event in listener.events}
        await listener.close()
    await stayer.wait_for_seqs(newest, 3)
    stayer_seqs = {event["seq"] for event in stayer.events}
    print(
        f"listener that stayed connected: closed={stayer.closed_with}, got {len(stayer_seqs & set(expected))} of the"
        f" {len(expected)} events of the outage, live after it: {newest <= stayer_seqs}"
    )
    await stayer.close()
    assert server.server_errors() == []


def _member_and_project() -> tuple[Any, str]:
    admin = UserFactory()
    project = ProjectFactory(created_by=admin)
    MembershipFactory(project=project, user=admin, role=Role.ADMIN)
    return admin, str(project.pk)


def _wait_for_image(image_id: str) -> Image:
    return wait_until(
        lambda: Image.objects.filter(pk=image_id, status__in=[ImageStatus.READY, ImageStatus.FAILED]).first(),
        20,
        "the image uploaded during the outage to be processed",
    )


# --- 3. Database connections dropped --------------------------------------------------------------


def terminate_other_backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


def other_backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


@pytest.mark.parametrize("conn_max_age", ["0", "60"])
@async_test
async def test_requests_and_jobs_succeed_after_the_database_drops_every_connection(
    tmp_path: Path,
    services: list[Service],
    conn_max_age: str,
    fake_cloudinary: FakeCloudinary,  # noqa: F811
) -> None:
    env = app_env(settings.REDIS_URL, DB_CONN_MAX_AGE=conn_max_age, CLOUDINARY_URL=fake_cloudinary.cloudinary_url)
    admin, project = await sync_to_async(_member_and_project)()
    token = token_for(admin)
    server = await asyncio.to_thread(WebServer, tmp_path, env)
    services.append(server)
    worker = await asyncio.to_thread(start_worker, tmp_path, env)
    services.append(worker)
    listener = Listener(server, token)
    await listener.open()
    status, ticket, _ = await asyncio.to_thread(
        call, server, "POST", "/api/v1/tickets/", token=token, body={"project": project, "title": "Images"}
    )
    assert status == 201

    async def requests() -> list[tuple[str, int]]:
        results = []
        for name, method, path, body in [
            ("list", "GET", f"/api/v1/tickets/?project={project}", None),
            ("create", "POST", "/api/v1/tickets/", {"project": project, "title": "Another"}),
            ("comment", "POST", f"/api/v1/tickets/{ticket['key']}/comments/", {"body": "Hello"}),
            ("readyz", "GET", "/readyz", None),
            ("me", "GET", "/api/v1/auth/me/", None),
        ]:
            status, _, _ = await asyncio.to_thread(call, server, method, path, token=token, body=body)
            results.append((name, status))
        status, image, _ = await asyncio.to_thread(upload, server, ticket["key"], token, png_bytes())
        results.append(("upload", status))
        final = await sync_to_async(_wait_for_image)(image["id"])
        results.append((f"image {final.status}", 200 if final.status == ImageStatus.READY else 500))
        return results

    before = await requests()
    open_before = await sync_to_async(other_backends)()
    terminated = await sync_to_async(terminate_other_backends)()
    after = await requests()
    again = await requests()
    # The dashboard's next reads of the table (a resume) run on fresh connections too.
    await listener.stream.send(json.dumps({"action": "resume", "after_seq": 0}))  # type: ignore[union-attr]
    seqs = set(await sync_to_async(project_seqs)(project))
    await listener.wait_for_seqs(seqs, 5)
    await listener.close()
    # Persistent connections under ASGI: each request runs in a thread of its own. Is a connection
    # reused, or does each request leave one open until garbage collection?
    for _ in range(20):
        await asyncio.to_thread(call, server, "GET", f"/api/v1/tickets/?project={project}", token=token)
    open_after_20_more = await sync_to_async(other_backends)()
    print(
        f"\nDB_CONN_MAX_AGE={conn_max_age}: {open_before} connection(s) of the server and worker open,"
        f" {terminated} terminated, {open_after_20_more} open after 20 more requests;"
        f" before={before} after={after} again={again}"
    )
    assert all(status < 300 for _, status in before + after + again), (before, after, again, server.server_errors())
    assert seqs <= {event["seq"] for event in listener.events}
    assert server.server_errors() == []
    # Every job succeeded at its first run: none was handed a dropped connection (and then retried).
    assert "exception raised while executing" not in worker.log(), worker.log()[-3000:]
