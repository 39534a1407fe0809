"""Writes of the webhooks app: webhooks registered, changed, rotated, pinged; deliveries made again."""

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework.fields import DateTimeField

from accounts.models import User
from hopla.api.exceptions import InvalidField, StateConflict
from hopla.api.renderers import as_json_types
from tickets.models import EventType, Project
from webhooks.dispatching import dispatch_cursor_ensure
from webhooks.drain_jobs import drain_request
from webhooks.models import EVERY_EVENT, PING_EVENT, Delivery, DeliveryStatus, Webhook
from webhooks.safety import check_url
from webhooks.secrets import secret_generate, secret_problem
from webhooks.serializers import WebhookSerializer

_UPDATABLE = ("url", "events", "description", "active")


def events_problem(events: Any) -> str | None:
    """Why `events` is not a webhook's list of event types, or None when it is."""
    if not isinstance(events, list) or not events:
        return 'List the event types to receive, or ["*"] for all.'
    if EVERY_EVENT in events:
        return None if events == [EVERY_EVENT] else '"*" stands alone: it already means every event type.'
    unknown = [str(name) for name in events if name not in EventType.values]
    if unknown:
        return f"Unknown event types: {', '.join(unknown)}."
    return None


def _check_events(events: Any) -> None:
    problem = events_problem(events)
    if problem:
        raise InvalidField("events", (problem, "invalid"))


@transaction.atomic
def webhook_create(
    *,
    project: Project,
    actor: User | None,
    url: str,
    events: list[str],
    description: str = "",
    secret: str | None = None,
    active: bool = True,
) -> Webhook:
    check_url(url)
    _check_events(events)
    if secret is not None and (problem := secret_problem(secret)):
        raise InvalidField("secret", (problem, "invalid"))
    # From the first webhook on, the dispatcher's cursor exists: events committed from now on are
    # delivered even if the worker only starts later.
    dispatch_cursor_ensure()
    return Webhook.objects.create(
        project=project,
        created_by=actor,
        url=url,
        events=events,
        description=description,
        secret=secret or secret_generate(),
        active=active,
    )


def webhook_update(*, webhook: Webhook, data: dict[str, Any]) -> Webhook:
    """Change url, events, description or active; `active: True` re-enables a disabled webhook and
    starts its count of failures over."""
    changes = {name: data[name] for name in _UPDATABLE if name in data}
    if "url" in changes:
        check_url(changes["url"])
    if "events" in changes:
        _check_events(changes["events"])
    if changes.get("active") is True and not webhook.active:
        changes.update(disabled_reason="", consecutive_failures=0)
    for name, value in changes.items():
        setattr(webhook, name, value)
    webhook.save(update_fields=[*changes, "updated_at"])
    if changes.get("active") is True:
        transaction.on_commit(lambda: drain_request(webhook.pk))  # what waited while it was off
    return webhook


@transaction.atomic
def webhook_delete(*, webhook: Webhook) -> None:
    """Its deliveries go with it, pending ones included: nothing more is attempted. The row is locked
    first (webhooks.signals.webhook_row_lock), so a dispatch committing meanwhile cannot fail it."""
    webhook.delete()


def webhook_rotate_secret(*, webhook: Webhook) -> Webhook:
    """A new secret; the old one still signs, beside it, for WEBHOOK_SECRET_OVERLAP_HOURS."""
    webhook.previous_secret = webhook.secret
    webhook.previous_secret_expires_at = timezone.now() + timedelta(hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS)
    webhook.secret = secret_generate()
    webhook.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    return webhook


def webhook_data(webhook: Webhook) -> dict[str, Any]:
    """The webhook as the API shows it, without its secret (the `data` of a ping), as plain JSON types."""
    return as_json_types(WebhookSerializer(webhook).data)


def _check_active(webhook: Webhook) -> None:
    if not webhook.active:
        raise StateConflict(
            "The webhook is disabled: enable it (active: true) before sending to it.", code="webhook_inactive"
        )


@transaction.atomic
def webhook_ping(*, webhook: Webhook) -> Delivery:
    """A `webhook.ping` delivery, attempted at once (ahead of any backlog: it has no `seq`)."""
    _check_active(webhook)
    event_id = uuid.uuid4()
    now = timezone.now()
    payload = {
        "id": str(event_id),
        "seq": None,
        "type": PING_EVENT,
        "project": str(webhook.project_id),
        "ticket": None,
        "actor": None,
        "at": DateTimeField().to_representation(now),
        "changes": {},
        "data": webhook_data(webhook),
    }
    delivery = Delivery.objects.create(
        webhook=webhook, event_id=event_id, event_type=PING_EVENT, payload=payload, next_attempt_at=now
    )
    transaction.on_commit(lambda: drain_request(webhook.pk))
    return delivery


@transaction.atomic
def delivery_redeliver(*, delivery: Delivery) -> Delivery:
    """The delivery made again from now, same `webhook-id`, with the whole retry schedule; refused
    (409 `delivery_pending`) while it is still pending: its attempts are under way."""
    _check_active(delivery.webhook)
    restarted = (
        Delivery.objects.filter(pk=delivery.pk)
        .exclude(status=DeliveryStatus.PENDING)
        .update(
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=timezone.now(),
            delivered_at=None,
        )
    )
    if not restarted:
        raise StateConflict(
            "The delivery is still pending: its attempts are under way; redeliver it once it has succeeded or failed.",
            code="delivery_pending",
        )
    delivery.refresh_from_db()
    transaction.on_commit(lambda: drain_request(delivery.webhook_id))
    return delivery
