"""Writes of webhooks and their deliveries: registration, changes, secret rotation, pings, redeliveries.

The delivery engine (jobs) takes every `pending` delivery whose `next_attempt_at` has come; these
services only put deliveries in that state.
"""

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from hopla.api.exceptions import StateConflict
from hopla.api.renderers import as_json_types
from tickets.models import Project
from webhooks.models import Delivery, DeliveryStatus, Webhook
from webhooks.secrets import secret_generate
from webhooks.serializers import PING, WebhookSerializer


@transaction.atomic
def webhook_create(
    *,
    project: Project,
    actor: User,
    url: str,
    events: list[str],
    description: str = "",
    secret: str | None = None,
    active: bool = True,
) -> Webhook:
    return Webhook.objects.create(
        project=project,
        created_by=actor,
        url=url,
        events=events,
        description=description,
        secret=secret or secret_generate(),
        active=active,
    )


@transaction.atomic
def webhook_update(*, webhook: Webhook, data: dict[str, Any]) -> Webhook:
    """`data`: validated fields to change. Turning a webhook on again forgets why it was turned off."""
    for field, value in data.items():
        setattr(webhook, field, value)
    if data.get("active") is True:
        webhook.disabled_reason = ""
        webhook.consecutive_failures = 0
    webhook.save()
    return webhook


@transaction.atomic
def webhook_delete(*, webhook: Webhook) -> None:
    """Its deliveries go with it, the pending ones included: nothing more is sent to it."""
    webhook.delete()


@transaction.atomic
def webhook_rotate_secret(*, webhook: Webhook) -> Webhook:
    """A new secret; the old one signs beside it for WEBHOOK_SECRET_OVERLAP_HOURS."""
    webhook.previous_secret = webhook.secret
    webhook.previous_secret_expires_at = timezone.now() + timedelta(hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS)
    webhook.secret = secret_generate()
    webhook.save()
    return webhook


@transaction.atomic
def webhook_ping(*, webhook: Webhook) -> Delivery:
    """A `webhook.ping` delivery, due now; its data is the webhook without its secret."""
    event_id = uuid.uuid4()
    now = timezone.now()
    payload = {
        "id": str(event_id),
        "seq": None,
        "type": PING,
        "project": str(webhook.project_id),
        "ticket": None,
        "actor": None,
        "at": now.isoformat(),
        "changes": {},
        "data": as_json_types(WebhookSerializer(webhook).data),
    }
    return Delivery.objects.create(
        webhook=webhook, event_id=event_id, event_type=PING, payload=payload, next_attempt_at=now
    )


@transaction.atomic
def delivery_redeliver(*, delivery: Delivery) -> Delivery:
    """A new attempt now, under the same event id (`webhook-id`); 409 while one is still pending."""
    locked = Delivery.objects.select_for_update().get(pk=delivery.pk)
    if locked.status == DeliveryStatus.PENDING:
        raise StateConflict(
            "This delivery is still pending: its next attempt is already scheduled.", code="delivery_pending"
        )
    locked.status = DeliveryStatus.PENDING
    locked.next_attempt_at = timezone.now()
    locked.save(update_fields=["status", "next_attempt_at"])
    return locked
