"""A real SMTP server in a process of its own (aiosmtpd), storing what it receives in a Maildir, and the
fixtures that start it and point Django's SMTP backend at it (imported by the conftests that need them)."""

import mailbox
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest


def free_port() -> int:
    """A port nothing listens on now: for the server, or to stand for a mail server that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SmtpServer:
    def __init__(self, directory: Path, port: int) -> None:
        self.port = port
        self.maildir = directory / "maildir"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                f"127.0.0.1:{port}",
                "-c",
                "aiosmtpd.handlers.Mailbox",
                str(self.maildir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the SMTP server did not start on port {port}")

    def messages(self) -> list[Message]:
        box = mailbox.Maildir(self.maildir, create=False)
        return sorted(box, key=lambda message: message["Date"] or "")

    def clear(self) -> None:
        box = mailbox.Maildir(self.maildir, create=False)
        for key in list(box.keys()):
            box.remove(key)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture(scope="module")
def smtp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    """One SMTP server process for a module's tests, on a free port."""
    server = SmtpServer(tmp_path_factory.mktemp("smtp"), free_port())
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_server: SmtpServer, settings: Any) -> SmtpServer:
    """Django's SMTP backend pointed at the server, its mailbox emptied."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    smtp_server.clear()
    return smtp_server
