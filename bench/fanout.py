"""W4: one ticket update fanned out to N WebSocket clients, against a bare `group_send` to the same clients.

hopla's path: PATCH over HTTP → the service's transaction and Event row → publish on commit → Redis
pub/sub → each consumer → its socket. The reference starts at the channel layer: this process calls
`group_send` on the project's group with an event of the same size, and the same consumers forward it.
Both are timed from the moment the change is asked for to the moment the last client has it.
"""

import asyncio
import contextlib
import copy
import itertools
import json
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from channels.layers import get_channel_layer
from websockets.asyncio.client import ClientConnection, connect

from bench.report import Row, percentile
from hopla.channel_groups import project_group

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# Beyond any seq the table will reach in a run: consumers forward each reference event once.
_REFERENCE_SEQ_BASE = 10**12


@dataclass
class _Arrivals:
    """When each client received each marked event, keyed by the marker (the event's ticket title)."""

    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    complete: dict[str, asyncio.Event] = field(default_factory=dict)
    last_event: dict[str, Any] | None = None
    clients: int = 0

    def expect(self, marker: str) -> asyncio.Event:
        self.complete[marker] = asyncio.Event()
        return self.complete[marker]

    def note(self, event: dict[str, Any]) -> None:
        marker = str(event.get("data", {}).get("title", ""))
        arrivals = self.times[marker]
        arrivals.append(time.perf_counter())
        self.last_event = event
        if len(arrivals) == self.clients and marker in self.complete:
            self.complete[marker].set()


async def _read(stream: ClientConnection, arrivals: _Arrivals) -> None:
    async for raw in stream:
        message = json.loads(raw)
        if message.get("type") == "event":
            arrivals.note(message["event"])


def _patch(base_url: str, path: str, token: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        base_url + path,
        method="PATCH",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with _opener.open(request, timeout=10) as response:
        response.read()


async def _connect_all(ws_url: str, tokens: list[str]) -> list[ClientConnection]:
    streams: list[ClientConnection] = []
    for start in range(0, len(tokens), 50):  # in batches: 500 handshakes at once only measure the backlog
        batch = tokens[start : start + 50]
        streams += await asyncio.gather(
            *(connect(f"{ws_url}?token={token}", proxy=None, open_timeout=30, max_queue=None) for token in batch)
        )
    for stream in streams:
        hello = json.loads(await asyncio.wait_for(stream.recv(), 30))
        assert hello["type"] == "hello", hello
    return streams


async def _measure(
    *,
    base_url: str,
    token: str,
    watcher_tokens: list[str],
    project_id: str,
    ticket_key: str,
    updates: int,
    timeout: float,
) -> tuple[list[float], list[float], int, int]:
    ws_url = base_url.replace("http://", "ws://") + "/ws/v1/events/"
    streams = await _connect_all(ws_url, watcher_tokens)
    arrivals = _Arrivals(clients=len(streams))
    readers = [asyncio.create_task(_read(stream, arrivals)) for stream in streams]
    layer = get_channel_layer()
    assert layer is not None
    run = time.strftime("%H%M%S")
    counter = itertools.count()
    hopla_ms: list[float] = []
    reference_ms: list[float] = []
    lost = {"hopla": 0, "reference": 0}

    async def hopla_update() -> None:
        marker = f"Fan-out {run} {next(counter)}"
        done = arrivals.expect(marker)
        started = time.perf_counter()
        await asyncio.to_thread(_patch, base_url, f"/api/v1/tickets/{ticket_key}/", token, {"title": marker})
        await _wait(done, timeout)
        _record(arrivals, marker, started, hopla_ms, lost, "hopla")

    async def reference_send() -> None:
        assert arrivals.last_event is not None
        marker = f"Fan-out {run} {next(counter)}"
        event = copy.deepcopy(arrivals.last_event)
        event["seq"] = _REFERENCE_SEQ_BASE + next(counter)
        event["data"]["title"] = marker
        done = arrivals.expect(marker)
        started = time.perf_counter()
        await layer.group_send(project_group(project_id), {"type": "event.message", "event": event})
        await _wait(done, timeout)
        _record(arrivals, marker, started, reference_ms, lost, "reference")

    await hopla_update()  # warm-up, and the event the reference copies
    hopla_ms.clear()
    lost["hopla"] = 0
    for number in range(updates):
        for step in (hopla_update, reference_send) if number % 2 == 0 else (reference_send, hopla_update):
            await step()
            await asyncio.sleep(0.05)
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    await asyncio.gather(*(stream.close() for stream in streams), return_exceptions=True)
    return hopla_ms, reference_ms, lost["hopla"], lost["reference"]


async def _wait(done: asyncio.Event, timeout: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), timeout)


def _record(
    arrivals: _Arrivals, marker: str, started: float, delays: list[float], lost: dict[str, int], side: str
) -> None:
    times = arrivals.times.pop(marker, [])
    lost[side] += arrivals.clients - len(times)
    if times:
        delays.append((max(times) - started) * 1000)


def run(
    *,
    base_url: str,
    token: str,
    watcher_tokens: list[str],
    project_id: str,
    ticket_key: str,
    updates: int,
    rows: list[Row],
    timeout: float = 10.0,
) -> None:
    hopla_ms, reference_ms, hopla_lost, reference_lost = asyncio.run(
        _measure(
            base_url=base_url,
            token=token,
            watcher_tokens=watcher_tokens,
            project_id=project_id,
            ticket_key=ticket_key,
            updates=updates,
            timeout=timeout,
        )
    )
    name = f"W4 fan-out x{len(watcher_tokens)}"
    for metric, fraction in (("p50 ms to last client", 0.5), ("p99 ms to last client", 0.99)):
        row = Row(name, metric)
        if hopla_ms and reference_ms:
            row.add(percentile(hopla_ms, fraction), percentile(reference_ms, fraction))
        rows.append(row)
    lost_row = Row(name, f"messages lost (of {updates * len(watcher_tokens)})", note="not a ratio")
    lost_row.hopla, lost_row.reference = [float(hopla_lost)], [float(reference_lost)]
    rows.append(lost_row)
