"""The processes a run starts: the web server (in one of several setups), the RQ worker, the fake
Cloudinary, W6's webhook receiver. Every one is stopped by the `with` that started it."""

import itertools
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
APP = "bench.asgi:application"


def free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def procfile_web_command(port: int) -> list[str]:
    """The Procfile's `web` command serving the bench app on 127.0.0.1:`port`."""
    words = procfile_command("web", {**os.environ, "PORT": str(port), "BIND_HOST": "127.0.0.1"})
    words = [APP if word == "hopla.asgi:application" else word for word in words]
    return [str(BIN / words[0]), *words[1:]]


def server_command(setup: str, port: int) -> list[str]:
    """The command line of each server setup compared; `procfile` is the Procfile's (the main run's)."""
    if setup == "procfile":
        return procfile_web_command(port)
    host, port_text = "127.0.0.1", str(port)
    uvicorn = [str(BIN / "uvicorn"), APP, "--host", host, "--port", port_text, "--proxy-headers"]
    commands = {
        "uvicorn-1": uvicorn,
        "uvicorn-2": [*uvicorn, "--workers", "2"],
        "gunicorn-uvicorn-2": [
            str(BIN / "gunicorn"),
            APP,
            "--worker-class",
            "uvicorn_worker.UvicornWorker",
            "--workers",
            "2",
            "--bind",
            f"{host}:{port_text}",
        ],
        "granian-1": [str(BIN / "granian"), "--interface", "asgi", "--host", host, "--port", port_text, APP],
        "granian-2": [
            str(BIN / "granian"),
            "--interface",
            "asgi",
            "--host",
            host,
            "--port",
            port_text,
            "--workers",
            "2",
            APP,
        ],
        "daphne": [str(BIN / "daphne"), "--bind", host, "--port", port_text, APP],
        # HTTP through WSGI (no WebSockets: W4 cannot run on it), 2 processes of 8 threads.
        "gunicorn-gthread-2": [
            str(BIN / "gunicorn"),
            "bench.wsgi:application",
            "--worker-class",
            "gthread",
            "--workers",
            "2",
            "--threads",
            "8",
            "--bind",
            f"{host}:{port_text}",
        ],
    }
    return commands[setup]


# Setups that serve HTTP through WSGI: no WebSocket, so W4 does not run on them.
HTTP_ONLY_SETUPS = frozenset({"gunicorn-gthread-2"})

SERVER_SETUPS = [
    "uvicorn-1",
    "uvicorn-2",
    "gunicorn-uvicorn-2",
    "granian-1",
    "granian-2",
    "daphne",
    "gunicorn-gthread-2",
]


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def web_server(setup: str, env: dict[str, str], log_dir: Path, *, name: str = "") -> Iterator[str]:
    """Serve the bench application in `setup`; yields its base URL once /healthz answers. Its log is
    `web-<name or setup>.log` in `log_dir`."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with (log_dir / f"web-{name or setup}.log").open("ab") as log:
        process = subprocess.Popen(server_command(setup, port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_up(base_url, process)
            yield base_url
        finally:
            _stop(process)


def _wait_until_up(
    base_url: str, process: subprocess.Popen[bytes], *, what: str = "the web server", path: str = "/healthz"
) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with {process.returncode}; see its log")
        try:
            with opener.open(f"{base_url}{path}", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{what} did not start")


def procfile_command(process: str, environment: Mapping[str, str] = os.environ) -> list[str]:
    """The Procfile's command for `process`, its `${VAR:-default}` filled as a shell would from `environment`."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            command = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda match: environment.get(match[1], match[2]), command)
            words = shlex.split(command)
            return [sys.executable if word == "python" else word for word in words]
    raise SystemExit(f"no {process!r} line in the Procfile")


def procfile_environment(process: str) -> dict[str, str]:
    """The variables the Procfile's `process` line sets with `env NAME=value ... command`."""
    words = procfile_command(process)
    if words[0] != "env":
        return {}
    assignments = itertools.takewhile(lambda word: "=" in word, words[1:])
    return dict(word.split("=", 1) for word in assignments)


@contextmanager
def rq_worker(env: dict[str, str], log_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The Procfile's worker, its command read from the Procfile (with this interpreter for `python`);
    it does not recycle, as nothing here would start it again."""
    with (log_dir / "worker.log").open("ab") as log:
        process = subprocess.Popen(
            procfile_command("worker", {**env, "WORKER_MAX_JOBS": "0"}),
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            _stop(process)


@contextmanager
def fake_cloudinary() -> Iterator[str]:
    """The local Cloudinary-compatible server in its own process; yields its CLOUDINARY_URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.cloudinary_server"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().decode().strip()
    finally:
        _stop(process)


@contextmanager
def webhook_receiver(log_dir: Path) -> Iterator[str]:
    """W6's receiver (bench.webhook_receiver) in its own process; yields its base URL once it answers."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with (log_dir / "webhook-receiver.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.webhook_receiver", str(port)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_up(base_url, process, what="the webhook receiver", path="/count")
            yield base_url
        finally:
            _stop(process)


RAW_FLOOR_APP = "bench.raw_floor:application"


@contextmanager
def raw_floor_server(env: dict[str, str], log_dir: Path, config: Path) -> Iterator[str]:
    """The framework-free floor (bench.raw_floor) under the Procfile's web command, as hopla is served;
    yields its base URL once it answers."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [RAW_FLOOR_APP if word == APP else word for word in procfile_web_command(port)]
    with (log_dir / "web-raw-floor.log").open("ab") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env={**env, "RAW_FLOOR_CONFIG": str(config)}, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            _wait_until_up(base_url, process, what="the framework-free floor")
            yield base_url
        finally:
            _stop(process)
