"""Reads of a user's notifications: their own only, and only of the projects they are a member of now
(someone who left a project no longer sees its notifications: they answer 404)."""

from typing import Any

from django.db.models import QuerySet

from accounts.models import User
from hopla.api.exceptions import ObjectNotFound
from notifications.models import Notification
from tickets.models import Membership
from tickets.selectors import as_uuid


def notification_list(*, user: User, unread: bool = False) -> QuerySet[Notification]:
    """Newest first, each with its event and the event's actor in the same query."""
    member_of = Membership.objects.filter(user=user).values("project_id")
    notifications = Notification.objects.filter(user=user, project_id__in=member_of).select_related("event__actor")
    if unread:
        notifications = notifications.filter(read_at__isnull=True)
    return notifications.order_by("-created_at", "-id")


def notification_unread_count(*, user: User) -> int:
    return notification_list(user=user, unread=True).count()


def notification_get(*, user: User, notification_id: Any) -> Notification:
    """One of the user's visible notifications; anyone else's, or a malformed id, is a 404."""
    notification_uuid = as_uuid(notification_id)
    found = notification_list(user=user).filter(pk=notification_uuid).first() if notification_uuid else None
    if found is None:
        raise ObjectNotFound("No such notification.")
    return found
