"""Webhooks a project's admins register, and the deliveries of its events to them (SPEC §9).

The app consumes `tickets`' event table: deliveries are made from committed events, never called from
a service, so an event committed while Redis or the worker was away is still delivered.
"""

import uuid

from django.conf import settings
from django.db import models

from tickets.event_cursor import EventCursor
from tickets.models import Project

# The event type of a ping (SPEC §9); never in the event table, so no webhook subscribes to it.
PING_EVENT = "webhook.ping"
# `events: ["*"]`: every event type.
EVERY_EVENT = "*"


class Webhook(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=2000)
    # Event types of SPEC §7 (and `webhook.ping`), or ["*"] for every one.
    events = models.JSONField(default=list)
    description = models.CharField(max_length=500, blank=True, default="")
    active = models.BooleanField(default=True)
    # `whsec_` + base64 of the key bytes; kept in clear because every attempt signs with it.
    secret = models.CharField(max_length=128)
    # The secret a rotation replaced: it signs beside the new one until `previous_secret_expires_at`.
    previous_secret = models.CharField(max_length=128, blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    disabled_reason = models.CharField(max_length=500, blank=True, default="")
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    # Deliveries failed in a row (after their last attempt); WEBHOOK_DISABLE_AFTER_FAILURES turns it off.
    consecutive_failures = models.PositiveIntegerField(default=0)
    # The drain delivering to it now (webhooks.delivering.DrainLease): one at a time, so first attempts go
    # out in `seq` order; a drain killed with its worker frees it when `drain_leased_until` has passed.
    drain_token = models.UUIDField(null=True, blank=True, editable=False)
    drain_leased_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["project", "created_at"], name="webhook_project_created")]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


def webhook_row_lock_take(webhook: Webhook) -> None:
    """Lock the webhook's row for the rest of the transaction. Whatever writes a webhook's deliveries and
    the webhook itself takes this row first, as a delete does (webhooks.signals), so that the two never
    wait for each other's rows in opposite orders."""
    list(Webhook.objects.select_for_update().filter(pk=webhook.pk).values_list("pk", flat=True))


class Delivery(models.Model):
    """One event to one webhook, with the outcome of its latest attempt."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    # The event's id: the `webhook-id` header, the same on every retry and redelivery.
    event_id = models.UUIDField()
    # The event's seq: deliveries of one webhook are attempted in this order (null for a ping).
    event_seq = models.BigIntegerField(null=True, blank=True)
    event_type = models.CharField(max_length=32)
    # The event object as the WebSocket sends it: the `data` of the body.
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    # What the latest attempt sent, and the first 2 KB of what it got back.
    request_body = models.TextField(blank=True, default="")
    response_headers = models.JSONField(default=dict, blank=True)
    response_body = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        constraints = [models.UniqueConstraint(fields=["webhook", "event_id"], name="delivery_one_per_event")]
        indexes = [
            models.Index(fields=["webhook", "-created_at"], name="delivery_webhook_created"),
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="delivery_due",
            ),
            # A drain's next deliveries: a webhook's pending ones in `seq` order.
            models.Index(
                fields=["webhook", "event_seq", "created_at"],
                condition=models.Q(status="pending"),
                name="delivery_pending_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.webhook_id} ({self.status})"


class DispatchCursor(EventCursor):
    """One row: the highest event `seq` already turned into deliveries. Events are numbered in commit
    order (tickets' event counter), so nothing committed later can take a number below it."""

    def __str__(self) -> str:
        return f"events dispatched up to #{self.last_seq}"
