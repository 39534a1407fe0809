"""A real SMTP server in a process of its own (aiosmtpd), storing what it receives in a Maildir."""

import mailbox
import socket
import subprocess
import sys
import time
from email.message import Message
from pathlib import Path


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
