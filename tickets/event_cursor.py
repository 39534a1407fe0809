"""Reading the event table past a cursor, in `seq` order: how the apps that consume events (webhooks,
notifications) take the next batch and move their cursor, once each, with nothing skipped.

Events are numbered in commit order (tickets.services.event_writing: each writer holds the event
counter's row locked from taking its number until it commits), so once an event is visible every
event with a lower number is committed or gone: a cursor at the highest `seq` read never skips one
committed later. The cursor's row is locked while a batch is consumed and moved in the same
transaction as what the consumer writes from it, so two workers never consume the same events and a
crash between the two writes is impossible. Here in `tickets`, which owns the table, so that the
consumers share it without importing each other (and tickets imports none of them).
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.db import models, transaction
from django.db.models import Max

from tickets.models import Event


class EventCursor(models.Model):
    """One row (id 1): the highest event `seq` a consumer has already consumed."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_seq = models.BigIntegerField(default=0)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"events consumed up to #{self.last_seq}"


def event_cursor_ensure(cursor_model: type[EventCursor]) -> None:
    """Create the cursor at the newest event if there is none: events before it happened before the
    consumer existed."""
    newest = Event.objects.aggregate(newest=Max("seq"))["newest"] or 0
    cursor_model._default_manager.bulk_create([cursor_model(id=1, last_seq=newest)], ignore_conflicts=True)


@contextmanager
def events_consume(
    cursor_model: type[EventCursor], *, limit: int, select_related: Sequence[str] = ("actor",)
) -> Iterator[list[Event]]:
    """In one transaction: lock the cursor, give the next `limit` events past it (none when another
    worker holds it, or when it is just being created), and move it past them when the block ends
    without raising. What the block writes commits with the cursor's move, or neither does."""
    with transaction.atomic():
        # SKIP LOCKED: another worker is consuming; this one's turn comes at its next tick.
        cursor = cursor_model._default_manager.select_for_update(skip_locked=True).filter(pk=1).first()
        if cursor is None:
            event_cursor_ensure(cursor_model)
            yield []
            return
        events = list(
            Event.objects.filter(seq__gt=cursor.last_seq).select_related(*select_related).order_by("seq")[:limit]
        )
        yield events
        if events:
            cursor.last_seq = events[-1].seq
            cursor.save(update_fields=["last_seq"])
