"""Every drain's attempts go out from one event loop, on a thread of its own: the process's sender.

A drain (webhooks.delivering) reads its deliveries and records their outcomes on its own thread, with
its own database connection; it hands the sending to the sender, a chunk of deliveries at a time, and
waits. The sender attempts each chunk in order (a webhook's first attempts keep `seq` order), the chunks
of all drains at once, on one aiohttp session: a receiver that answers slowly holds up only its own
drain, as a thread per drain did.

Why not the drain threads sending themselves, as they did with httpx's blocking client: every socket
call lets go of the GIL and hands it to another drain thread, a thread switch each, and on 2 cores that
cost a third of the worker's CPU (BENCHMARKS.md, W6). One event loop sends the same requests with no
switch between them: on this project's machines an attempt's CPU fell from ~0.48 ms (httpx, five
threads) to ~0.11 ms (aiohttp, five drains on one loop; `/tmp` probe, BENCHMARKS.md "W6: one event
loop sends"). A drain thread is woken once per chunk, not once per socket call.

The sender starts with the first chunk and lives as long as the process (a daemon thread); a forked
child makes its own.
"""

import asyncio
import atexit
import contextlib
import os
import threading
import time
from collections.abc import Coroutine, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

import aiohttp
from django.conf import settings
from standardwebhooks import Webhook as Signer

from webhooks.attempts import Attempted, attempt
from webhooks.models import Delivery
from webhooks.transport import sending_session

# A waiting drain gives up on its chunk this long after the chunk's last attempt must have ended
# (each is bounded by WEBHOOK_TIMEOUT_SECONDS): only a sender that stopped would take that long.
_STUCK_MARGIN_SECONDS = 30.0

T = TypeVar("T")


class Sender:
    """An event loop on a daemon thread, and the session every attempt of the process goes out on."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="webhook-sender", daemon=True)
        self._thread.start()
        self._session = self._wait(self._submit(self._session_open()), timeout=30)
        atexit.register(self.close)

    @staticmethod
    async def _session_open() -> aiohttp.ClientSession:
        return sending_session()

    def _submit(self, coroutine: Coroutine[Any, Any, T]) -> "Future[T]":
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    @staticmethod
    def _wait(future: "Future[T]", timeout: float) -> T:
        try:
            return future.result(timeout=timeout)
        finally:
            future.cancel()  # a caller interrupted (RQ's job timeout) stops its chunk; a finished one is unaffected

    def running(self) -> bool:
        return self._thread.is_alive() and not self._loop.is_closed()

    def close(self) -> None:
        """Close the session's connections and stop the loop (at the process's exit)."""
        if self._loop.is_closed() or not self._thread.is_alive():
            return
        with contextlib.suppress(Exception):  # the process is leaving: nothing is left to tell
            self._wait(self._submit(self._session.close()), timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)

    def attempts(
        self, url: str, deliveries: Sequence[Delivery], signed_by: list[Signer], *, for_seconds: float
    ) -> list[Attempted]:
        """Attempt the deliveries one after another, until all are done or `for_seconds` have passed
        (at least one is attempted); answers the attempts made, in order. Blocks the calling thread."""
        until = time.monotonic() + for_seconds
        chunk = self._submit(_in_order(self._session, url, list(deliveries), signed_by, until))
        timeout = for_seconds + settings.WEBHOOK_TIMEOUT_SECONDS + _STUCK_MARGIN_SECONDS
        return self._wait(chunk, timeout)


async def _in_order(
    session: aiohttp.ClientSession, url: str, deliveries: list[Delivery], signed_by: list[Signer], until: float
) -> list[Attempted]:
    attempted: list[Attempted] = []
    for delivery in deliveries:
        attempted.append(await attempt(session, url, delivery, signed_by))
        if time.monotonic() >= until:
            break
    return attempted


_lock = threading.Lock()
_sender: Sender | None = None
_sender_pid = 0


def sender() -> Sender:
    """The process's sender, started on first use (again in a forked child, which has no thread of it,
    and should its thread ever have stopped)."""
    global _sender, _sender_pid
    with _lock:
        if _sender is None or _sender_pid != os.getpid() or not _sender.running():
            _sender, _sender_pid = Sender(), os.getpid()
        return _sender
