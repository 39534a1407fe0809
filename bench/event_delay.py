"""How long an event takes from its commit to a connected client, for each Redis channel layer.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hopla_bench REDIS_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python -m bench.event_delay [--rounds 30] [--clients 1 200]

For each layer a real server (uvicorn, as in production) is started; N clients of one project connect
to it; a ticket is created over HTTP on that server, N times `--rounds`; each client notes when the
event arrives. The delay is measured from the event's `at`, stamped in the transaction just before its
commit, so it covers commit, publish, the layer, the consumer and the socket. The database named by
DATABASE_URL is created and migrated if needed; what the run creates in it is deleted at the end.
"""

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.event_delay_settings"
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hopla_bench")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.core.management import call_command  # noqa: E402
from websockets.asyncio.client import ClientConnection  # noqa: E402

from accounts.models import User  # noqa: E402
from bench.data import maintenance_connection  # noqa: E402
from realtime.tests.support import ServerProcess, http_async, open_stream, receive, token_for  # noqa: E402
from tickets.models import Membership, Project, Role  # noqa: E402

LAYERS = {
    "RedisChannelLayer": "channels_redis.core.RedisChannelLayer",
    "RedisPubSubChannelLayer": "channels_redis.pubsub.RedisPubSubChannelLayer",
}
# The first events open database and Redis connections and fill caches: not counted.
WARM_UP_ROUNDS = 2


def _prepare_database() -> None:
    database = settings.DATABASES["default"]
    with maintenance_connection() as maintenance:
        exists = maintenance.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database["NAME"]]).fetchone()
        if not exists:
            maintenance.execute(f'CREATE DATABASE "{database["NAME"]}"')
    call_command("migrate", verbosity=0)


def _create_world(clients: int) -> tuple[Project, User, list[User]]:
    """A project, its admin (who makes the changes) and `clients` watching members."""
    run = uuid.uuid4().hex[:8]
    password = make_password(None)
    admin = User.objects.create(email=f"bench-admin-{run}@example.com", full_name="Bench admin", password=password)
    watchers = User.objects.bulk_create(
        User(email=f"bench-{run}-{number}@example.com", full_name=f"Watcher {number}", password=password)
        for number in range(clients)
    )
    project = Project.objects.create(key=f"B{run[:6].upper()}", name="Benchmark", created_by=admin)
    Membership.objects.bulk_create(
        [Membership(project=project, user=admin, role=Role.ADMIN)]
        + [Membership(project=project, user=watcher, role=Role.VIEWER) for watcher in watchers]
    )
    return project, admin, watchers


async def _measure(
    server: ServerProcess, project: Project, admin: User, watchers: list[User], rounds: int
) -> list[float]:
    """Delays in milliseconds, one per client and event."""
    streams = [await open_stream(server, token_for(watcher), max_queue=None) for watcher in watchers]
    for stream in streams:
        assert (await receive(stream))["type"] == "hello"
    delays: list[float] = []
    admin_token = token_for(admin)
    for round_number in range(WARM_UP_ROUNDS + rounds):
        await http_async(
            server, "POST", "/api/v1/tickets/", token=admin_token, body={"project": project.key, "title": "Bench"}
        )
        arrivals = await asyncio.gather(*(_arrival(stream) for stream in streams))
        if round_number >= WARM_UP_ROUNDS:
            delays.extend((arrived - committed) * 1000 for arrived, committed in arrivals)
    for stream in streams:
        await stream.close()
    return delays


async def _arrival(stream: ClientConnection) -> tuple[float, float]:
    """When the next event reached this client, and when it was committed (epoch seconds)."""
    raw = await asyncio.wait_for(stream.recv(), 10)
    arrived = time.time()
    event = json.loads(raw)["event"]
    return arrived, datetime.fromisoformat(event["at"]).timestamp()


def _summary(delays: list[float]) -> str:
    ordered = sorted(delays)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(ordered):7.1f}  p95 {p95:7.1f}  max {ordered[-1]:7.1f}"


def _errors_logged(server: ServerProcess) -> str:
    """The kinds of errors in the server's log, counted: what broke, in a few lines."""
    errors = [line for line in server.log().splitlines() if line.startswith(("redis.", "channels_redis", "Error"))]
    counted = {error: errors.count(error) for error in errors}
    return "\n".join(f"    server log: {count} x {error}" for error, count in counted.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="events measured per layer and client count")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 200], help="connected clients to try")
    options = parser.parse_args()
    _prepare_database()
    project, admin, watchers = _create_world(max(options.clients))
    print(f"{options.rounds} events per line; delay from commit to receipt, in ms", flush=True)
    try:
        with tempfile.TemporaryDirectory() as logs:
            for name, backend in LAYERS.items():
                server = ServerProcess(
                    Path(logs) / f"{name}.log", "bench.event_delay_settings", {"BENCH_CHANNEL_LAYER": backend}
                )
                try:
                    for clients in options.clients:
                        try:
                            delays = asyncio.run(_measure(server, project, admin, watchers[:clients], options.rounds))
                        except Exception as error:  # a layer that breaks under the load is a result too
                            print(f"{name:24} {clients:4} clients  failed: {error!r}", flush=True)
                            print(_errors_logged(server), flush=True)
                            continue
                        print(f"{name:24} {clients:4} clients  {_summary(delays)}", flush=True)
                finally:
                    server.stop()
    finally:
        project.delete()
        User.objects.filter(pk__in=[admin.pk, *(watcher.pk for watcher in watchers)]).delete()


if __name__ == "__main__":
    main()
