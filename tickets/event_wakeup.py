"""Waking the event table's consumers when events commit, rather than at their next tick.

On PostgreSQL a trigger on the event table (migration 0011) sends `NOTIFY hopla_events` from every
transaction that writes events, and PostgreSQL delivers it when, and only if, that transaction commits:
the moment the events become readable past a consumer's cursor (tickets.event_cursor). A consumer's
sweep in the worker (hopla.worker) waits for it on a LISTEN connection of its own, up to its interval,
instead of sleeping the interval out. Before, an event waited half a tick on average (0.25 s with the
default 0.5 s) before a webhook delivery or a notification was even made from it.

Nothing depends on a notification arriving: the consumers still read the table past their cursor, and a
notification lost (a listener reconnecting, a worker stopped) leaves the event to the next tick, as
before. SQLite (the embedded default) has no NOTIFY: there the sweep ticks.
"""

import logging
import time

import psycopg
from django.db import connections

logger = logging.getLogger("hopla.jobs")

CHANNEL = "hopla_events"


class EventWakeup:
    """A LISTEN connection of its own (never one of Django's: a pooled connection left listening would
    collect notifications for whoever borrows it next), opened on first use and again after a failure."""

    def __init__(self, alias: str = "default") -> None:
        self._alias = alias
        self._listener: psycopg.Connection | None = None
        self._cut_off = False  # said once in the log, not at every tick of an outage

    def wait(self, timeout: float) -> None:
        """Until an event commits, or `timeout` seconds; the notifications already arrived are all taken,
        since one run of a consumer reads every event committed so far.

        A listener that was not listening yet (the first wait, or the first after its connection was
        lost) starts and returns at once: an event committed before its LISTEN was never notified to it,
        so the caller's next run is what reads it."""
        deadline = time.monotonic() + timeout
        if self._listener is None:
            if self.listen():
                return
            time.sleep(timeout)
            return
        listener = self._listener
        try:
            for _ in listener.notifies(timeout=timeout, stop_after=1):
                pass
            for _ in listener.notifies(timeout=0):
                pass
        except psycopg.Error as error:
            self._report_cut_off("event listener lost; ticking until it reconnects", error)
            self.close()
            time.sleep(max(0.0, deadline - time.monotonic()))

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def listen(self) -> bool:
        """Start listening, if this database can (PostgreSQL) and is reachable; answers whether it does."""
        database = connections[self._alias]
        if database.vendor != "postgresql":
            return False
        try:
            listener = psycopg.connect(**database.get_connection_params(), autocommit=True)
            listener.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error as error:
            self._report_cut_off("event listener not connected; ticking meanwhile", error)
            return False
        self._listener, self._cut_off = listener, False
        return True

    def _report_cut_off(self, message: str, error: psycopg.Error) -> None:
        if not self._cut_off:
            logger.warning(message, extra={"fields": {"error": str(error)[:200]}})
        self._cut_off = True
