"""The event sweep: events the channel layer never took, published again by the worker."""

from datetime import timedelta
from typing import Any

from django.utils import timezone

from tickets.models import Event
from tickets.services.event_publishing import event_publish


def events_republish(*, settle_seconds: float = 5, window: timedelta = timedelta(hours=1), limit: int = 500) -> int:
    """Publish again, oldest first, the recent events the channel layer never took (Redis was away,
    or the publish timed out). Events younger than `settle_seconds` are still being published (and
    marked) by the process that wrote them. Consumers drop an event they already delivered, so a
    repeat is harmless."""
    now = timezone.now()
    unpublished = Event.objects.filter(
        published_at__isnull=True, at__lt=now - timedelta(seconds=settle_seconds), at__gte=now - window
    ).select_related("actor")
    published: list[Any] = []
    for event in unpublished.order_by("seq")[:limit]:
        if not event_publish(event):
            break  # the layer is still away: try again on the next sweep
        published.append(event.pk)
    if published:
        Event.objects.filter(pk__in=published).update(published_at=timezone.now())
    return len(published)
