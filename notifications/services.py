"""Notification writes of the API: marking read. (Notifications themselves are made by the worker,
notifications.making.)"""

import datetime

from django.utils import timezone

from accounts.models import User
from notifications import selectors
from notifications.models import Notification


def notification_read(*, notification: Notification) -> None:
    """Mark it read (already read: its first reading time stays)."""
    if notification.read_at is None:
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=timezone.now())


def notifications_read_all(*, user: User, before: datetime.datetime | None = None) -> int:
    """Mark the user's unread notifications read, those made before `before` only if given (so that a
    client marks what it has shown, not what arrived meanwhile). Answers how many."""
    unread = selectors.notification_list(user=user, unread=True)
    if before is not None:
        unread = unread.filter(created_at__lt=before)
    return Notification.objects.filter(pk__in=unread.values("pk")).update(read_at=timezone.now())
