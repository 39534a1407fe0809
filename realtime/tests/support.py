"""Helpers for the realtime tests: running async tests, tokens, and talking to a real server process."""

import asyncio
import functools
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection
from rest_framework_simplejwt.tokens import AccessToken
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parents[2]
# How long anything that should happen at once may take before the test fails.
WAIT = 5.0


def async_test(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async test body on an event loop, with Django's thread-sensitive calls on the test's thread.

    asgiref's own bridge instead of pytest-asyncio: one dependency less, and database calls made by
    the consumer run on the thread that holds the test's database connection.
    """

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        async_to_sync(test)(*args, **kwargs)

    return run


def token_for(user: Any) -> str:
    return str(AccessToken.for_user(user))


def expired_token(user: Any) -> str:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=1))
    return str(token)


def inactive_user_token(user: Any) -> str:
    """A token of `user`, who is then deactivated."""
    user.is_active = False
    user.save()
    return token_for(user)


# --- A real server process ----------------------------------------------------------------------


class ServerProcess:
    """`uvicorn hopla.asgi:application` on a free port, on this process's database and Redis."""

    def __init__(
        self, log_path: Path, settings_module: str = "hopla.settings.test", environment: dict[str, str] | None = None
    ) -> None:
        self.log_path = log_path
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws/v1/events/"
        database = connection.settings_dict
        environment = {
            **os.environ,
            **(environment or {}),
            "DJANGO_SETTINGS_MODULE": settings_module,
            "DATABASE_URL": (
                f"postgres://{database['USER']}:{database['PASSWORD']}@{database['HOST'] or '127.0.0.1'}:"
                f"{database['PORT'] or 5432}/{database['NAME']}"
            ),
            "REDIS_URL": settings.REDIS_URL,
            "PYTHONUNBUFFERED": "1",
        }
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "hopla.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=ROOT,
            env=environment,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_until_serving()

    def _wait_until_serving(self, timeout: float = 30.0) -> None:
        deadline_at = time.monotonic() + timeout
        while time.monotonic() < deadline_at:
            try:
                with _opener.open(f"{self.base_url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            try:
                # Doubles as the pause between attempts, and notices a server that died starting.
                self.process.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                continue
            break
        raise RuntimeError(f"The server did not start; its log:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Never through a proxy that the environment may configure: these servers are local.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(server: ServerProcess, method: str, path: str, *, token: str, body: Any = None) -> tuple[int, Any]:
    """One JSON request to the server's API, answered as (status, parsed body)."""
    request = urllib.request.Request(
        f"{server.base_url}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with _opener.open(request, timeout=WAIT) as response:
            status, content = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, content = error.code, error.read()
    return status, json.loads(content) if content else None


async def http_async(server: ServerProcess, method: str, path: str, *, token: str, body: Any = None) -> Any:
    """`http` off the event loop, so that sockets keep being read meanwhile; fails on a non-2xx answer."""
    status, content = await asyncio.to_thread(http, server, method, path, token=token, body=body)
    assert 200 <= status < 300, (status, content)
    return content


async def open_stream(server: ServerProcess, token: str | None, **options: Any) -> ClientConnection:
    url = server.ws_url if token is None else f"{server.ws_url}?token={token}"
    return await connect(url, proxy=None, open_timeout=WAIT, **options)


async def receive(stream: ClientConnection) -> dict[str, Any]:
    """The next server message; fails if none comes within `WAIT`."""
    return json.loads(await asyncio.wait_for(stream.recv(), WAIT))


async def send(stream: ClientConnection, message: Any) -> None:
    await stream.send(message if isinstance(message, str) else json.dumps(message))


async def connected(server: ServerProcess, user: Any) -> ClientConnection:
    """An open stream for `user`, past its hello."""
    stream = await open_stream(server, token_for(user))
    assert (await receive(stream))["type"] == "hello"
    return stream


async def next_event(stream: ClientConnection) -> dict[str, Any]:
    message = await receive(stream)
    assert message["type"] == "event", message
    return message["event"]


async def round_trip(stream: ClientConnection) -> None:
    """Ping and wait for the pong: everything the server sent before it has been received."""
    await send(stream, {"action": "ping"})
    assert await receive(stream) == {"type": "pong"}


async def close_code(stream: ClientConnection, timeout: float = WAIT) -> int:
    """The code the server closes the stream with; fails if a message comes first ("DID NOT RAISE"), or no
    close comes within `timeout`."""
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(stream.recv(), timeout)
    assert closed.value.rcvd is not None, "the connection ended without a close frame"
    return closed.value.rcvd.code
