"""`make run` with REDIS_URL (honcho running the Procfile) serves this machine only and keeps its worker."""

import contextlib
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from bench.processes import free_port
from hopla.tests.test_faults import descendants

ROOT = Path(__file__).resolve().parents[2]


def listening_addresses(port: int) -> set[str]:
    """The IPv4 addresses a socket listens on at `port`, read from /proc/net/tcp (state 0A: LISTEN)."""
    addresses = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, _, port_hex = local.partition(":")
        if state == "0A" and int(port_hex, 16) == port:
            addresses.add(".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0)))
    return addresses


def command_lines(pids: list[int]) -> list[list[str]]:
    lines = []
    for pid in pids:
        with contextlib.suppress(OSError):
            lines.append(Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0"))
    return lines


@pytest.fixture
def make_run(transactional_db: None) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """The command `make run` starts the processes with (after migrating), run on a free port."""
    port = free_port()
    database = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "hopla.settings.local",
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
    }
    # Under `make test` this make is a sub-make: without --no-print-directory it adds "Entering/Leaving
    # directory" lines around what it prints.
    dry_run = subprocess.run(
        ["make", "--no-print-directory", "-n", "run", f"REDIS_URL={settings.REDIS_URL}", f"PORT={port}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    (start,) = [line for line in dry_run.stdout.replace("\\\n", " ").splitlines() if "honcho start" in line]
    # `env`: the shell's `exec` takes no `NAME=value` prefix; honcho is then the process signalled below.
    honcho = subprocess.Popen(["sh", "-c", f"exec env {start}"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    yield port, honcho
    honcho.send_signal(signal.SIGTERM)  # honcho stops the processes it started
    honcho.wait(timeout=30)


def test_make_run_serves_this_machine_only_and_its_worker_never_recycles(make_run):
    port, honcho = make_run
    deadline = time.monotonic() + 60
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while True:
        with contextlib.suppress(OSError), opener.open(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            assert response.status == 200
            break
        assert honcho.poll() is None, "make run stopped"
        assert time.monotonic() < deadline, "make run's web server did not answer"
        time.sleep(0.1)
    assert listening_addresses(port) == {"127.0.0.1"}  # DEBUG is on here: never 0.0.0.0
    # The worker's Python, not the shell honcho runs it with (`sh -c` and the Procfile line, unexpanded).
    workers = [words for words in command_lines(descendants(honcho.pid)) if "rqworker" in words]
    # honcho stops every process when one exits and restarts none: a recycling worker would end make run.
    assert workers
    assert {words[words.index("--max-jobs") + 1] for words in workers} == {"0"}
