"""W6's webhook receiver, in a process of its own: every POST answered 204 at once, and recorded.

`python -m bench.webhook_receiver PORT` serves on 127.0.0.1:PORT until terminated:

- `POST /hooks/<name>`: 204; records the hook's name, the `webhook-*` headers, the body and the time
  it arrived (`time.time()`: the event's `at` is wall-clock time of the same machine).
- `GET /count`: `{"count": n}`, the records so far (the bench polls it while deliveries drain).
- `GET /received`: every record; `DELETE /received` forgets them.

`Records` reads them from the benchmark's side (W6, the soak).

uvicorn (httptools, uvloop) with a bare ASGI function rather than a framework: the receiver shares two
cores with what it measures, so it should cost as little per request as a real server can.
"""

import sys
import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import uvicorn

_records: list[dict[str, Any]] = []
_HEADERS = {b"webhook-id", b"webhook-timestamp", b"webhook-signature", b"content-type", b"user-agent"}


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(send: Any, status: int, body: bytes = b"") -> None:
    headers = [(b"content-type", b"application/json")] if body else []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    method, path = scope["method"], scope["path"]
    if method == "POST" and path.startswith("/hooks/"):
        body = await _body(receive)
        arrived = time.time()
        headers = {name.decode(): value.decode() for name, value in scope["headers"] if name in _HEADERS}
        _records.append({"hook": path.removeprefix("/hooks/"), "at": arrived, "headers": headers, "body": body})
        await _answer(send, 204)
    elif method == "GET" and path == "/count":
        await _answer(send, 200, orjson.dumps({"count": len(_records)}))
    elif method == "GET" and path == "/received":
        await _answer(send, 200, orjson.dumps([{**record, "body": record["body"].decode()} for record in _records]))
    elif method == "DELETE" and path == "/received":
        _records.clear()
        await _answer(send, 204)
    else:
        await _answer(send, 404)


@dataclass(frozen=True)
class Arrival:
    hook: str
    event_id: str
    at: float  # time.time() at the receiver
    headers: dict[str, str]
    body: str


class Records:
    """The receiver process's records, read over HTTP."""

    POLL_SECONDS = 0.2

    def __init__(self, base_url: str) -> None:
        self._client = httpx.Client(base_url=base_url, timeout=60)

    def clear(self) -> None:
        self._client.delete("/received").raise_for_status()

    def count(self) -> int:
        return int(self._client.get("/count").json()["count"])

    def wait_for(self, expected: int, timeout: float) -> None:
        """Until `expected` arrivals (or `timeout`: what is missing then is counted as lost). Polls seldom,
        since each poll takes CPU from the worker it waits for."""
        deadline = time.monotonic() + timeout
        while self.count() < expected and time.monotonic() < deadline:
            time.sleep(self.POLL_SECONDS)

    def arrivals(self) -> list[Arrival]:
        return [
            Arrival(
                hook=record["hook"],
                event_id=record["headers"].get("webhook-id", ""),
                at=record["at"],
                headers=record["headers"],
                body=record["body"],
            )
            for record in self._client.get("/received").json()
        ]


def main() -> None:
    port = int(sys.argv[1])
    uvicorn.run(
        application,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
