"""In-app notifications of the changes to the tickets people watch (SPEC §11).

The app consumes `tickets`' event table: the worker makes notifications from committed events
(notifications.making), never a service in the web request, so a ticket's watchers cost its update
nothing and an event committed while Redis or the worker was away is still notified.
"""

import uuid

from django.conf import settings
from django.db import models

from tickets.event_cursor import EventCursor
from tickets.models import Event, Project


class Reason(models.TextChoices):
    """Why the user hears of it: the ticket is assigned to them, they reported it, or they watch it."""

    WATCHING = "watching"
    ASSIGNED = "assigned"
    REPORTER = "reporter"


class Notification(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications", db_index=False
    )
    # Leaving the project hides its notifications (they answer 404); deleting it deletes them.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    # Shown as the event object of SPEC §7; deleted with it (a project's deletion deletes its events).
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+", db_index=False)
    # `{id, key, title}` of the ticket when the event was notified: it outlives a deleted ticket.
    ticket = models.JSONField(default=dict)
    reason = models.CharField(max_length=16, choices=Reason.choices)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    # When an email listed it (instant batch or digest); unread and not emailed is what the next one lists.
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "event"], name="notification_one_per_event")]
        indexes = [
            # The user's list, newest first, and its unread part (list, count, read-all, emails).
            models.Index(fields=["user", "-created_at", "-id"], name="notification_user_created"),
            models.Index(
                fields=["user", "created_at"], condition=models.Q(read_at__isnull=True), name="notification_unread"
            ),
            models.Index(fields=["event"], name="notification_event"),
        ]

    def __str__(self) -> str:
        return f"{self.reason}: {self.event_id} for {self.user_id}"


class NotifyCursor(EventCursor):
    """One row: the highest event `seq` already turned into notifications."""

    def __str__(self) -> str:
        return f"events notified up to #{self.last_seq}"
