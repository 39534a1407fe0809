"""A real HTTP receiver for deliveries: a stdlib server on a free loopback port, in a thread, that
records every request and answers as the test scripts it (status, delay, body, headers)."""

import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook as Verifier


@dataclass
class Answer:
    status: int = 200
    delay: float = 0.0
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def verified(self, secret: str) -> Any:
        """The body, as a receiver checks it with the `standardwebhooks` library (raises if unsigned)."""
        return Verifier(secret).verify(self.body, self.headers)


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.arrived = threading.Event()  # set when a request's headers and body are in
        self.answers: list[Answer] = []  # answered in turn, then `default`
        self.default = Answer()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver

            def setup(self) -> None:
                super().setup()
                # The headers and the body go out in two writes: without this, the second waits for
                # the client's delayed ACK (40 ms a request on Linux).
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver._lock:
                    receiver.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    answer = receiver.answers.pop(0) if receiver.answers else receiver.default
                receiver.arrived.set()
                time.sleep(answer.delay)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(answer.body)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the client stopped reading (a capped body, a timeout)
                    self.wfile.write(answer.body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Down: the port refuses connections (start() opens it again)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def ids(self) -> list[str]:
        with self._lock:
            return [request.headers["webhook-id"] for request in self.received]

    def seqs(self) -> list[int]:
        with self._lock:
            return [json.loads(request.body)["data"]["seq"] for request in self.received]
