"""Event publishing: a committed event pushed to its channel-layer groups, then marked for the sweep."""

import atexit
import logging
import threading
import time
from functools import partial
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from hopla.api.renderers import as_json_types
from hopla.channel_groups import groups_send, groups_send_many, project_group, user_group
from tickets.models import Event, EventType
from tickets.serializers import EventSerializer

logger = logging.getLogger("hopla.events")


# A user who joins a project is not yet in its group, so these events also go to the user's own group.
_MEMBERSHIP_CHANGES = {EventType.MEMBER_ADDED, EventType.MEMBER_REMOVED}


def event_publish_on_commit(event: Event) -> None:
    """Publish the written event once its transaction commits (at once, outside a transaction)."""
    transaction.on_commit(partial(_publish_and_mark, event))


def events_publish_on_commit(events: list[Event]) -> None:
    """Publish a batch of written events once their transaction commits, in one pipelined send."""
    if events:
        transaction.on_commit(partial(_publish_all_and_mark, events))


def event_payload(event: Event) -> dict[str, Any]:
    """The event as the API and the WebSocket show it, as plain JSON types (the layer uses msgpack)."""
    return as_json_types(EventSerializer(event).data)


def _groups(event: Event) -> list[str]:
    # The project's group first, so that a consumer joining it on the user's copy gets no second one.
    groups = [project_group(event.project_id)]
    if event.type in _MEMBERSHIP_CHANGES:
        groups.append(user_group(event.data["user"]["id"]))
    return groups


def event_publish(event: Event) -> bool:
    """Push a committed event to its project's group; answers whether the layer took it. Never raises:
    the row is the truth; an event the layer did not take is pushed again by `events_republish` (the
    worker's sweep), and a client that was away gets it back with `resume`."""
    try:
        return groups_send(_groups(event), {"type": "event.message", "event": event_payload(event)})
    except Exception:
        logger.exception("event publish failed", extra={"fields": {"event": str(event.id), "seq": event.seq}})
        return False


def _publish_and_mark(event: Event) -> None:
    """After commit: publish, and have `published_at` set by the next batch (_PublishedMarks)."""
    if event_publish(event):
        _published_marks.add(event.pk)


def _publish_all_and_mark(events: list[Event]) -> None:
    """After commit: publish the batch (as `event_publish` does each), then mark it for the sweep."""
    try:
        sent = groups_send_many(
            [(_groups(event), {"type": "event.message", "event": event_payload(event)}) for event in events]
        )
    except Exception:
        logger.exception("events publish failed", extra={"fields": {"events": len(events), "seq": events[0].seq}})
        return
    if sent:
        for event in events:
            _published_marks.add(event.pk)


class _PublishedMarks:
    """Sets `published_at` of the events this process published, in one UPDATE per interval.

    Marking each event as it is published cost every write a second statement and commit after its
    own (bench/, W3). The mark only tells the sweep what not to publish again, so it may lag: a batch
    is written well within the sweep's settle time, and one lost with its process (or a failed
    UPDATE) means those events are published once more, which consumers ignore.
    """

    interval_seconds = 0.5

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._event_ids: list[Any] = []
        self._thread: threading.Thread | None = None

    def add(self, event_id: Any) -> None:
        with self._lock:
            self._event_ids.append(event_id)
            # Started on first use, and again in a forked child (threads do not survive a fork).
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="event published marks", daemon=True)
                self._thread.start()

    def flush(self, *, at_exit: bool = False) -> int:
        """Write the pending marks now; answers how many events were marked. A failure leaves those
        events to the sweep, which publishes them once more. At exit the database may be gone already:
        worth a line, not a traceback."""
        with self._lock:
            event_ids, self._event_ids = self._event_ids, []
        if not event_ids:
            return 0
        try:
            return Event.objects.filter(pk__in=event_ids).update(published_at=timezone.now())
        except Exception as error:
            if at_exit:
                logger.warning("event published marks not written at exit: %s", type(error).__name__)
            else:
                logger.exception("event published marks not written", extra={"fields": {"events": len(event_ids)}})
            return 0

    def _run(self) -> None:
        while True:
            time.sleep(self.interval_seconds)
            try:
                self.flush()
            finally:
                connection.close()  # this thread's own connection (back to the pool, if any)


_published_marks = _PublishedMarks()
atexit.register(partial(_published_marks.flush, at_exit=True))
