"""Reads of webhooks and deliveries, each under an already access-checked project or webhook.

An id that is malformed, unknown, or another project's (or another webhook's) answers the same 404.
"""

from typing import Any

from django.db.models import QuerySet

from hopla.api.exceptions import ObjectNotFound
from tickets.models import Project
from tickets.selectors import as_uuid
from webhooks.models import Delivery, Webhook


def webhook_list(*, project: Project) -> QuerySet[Webhook]:
    return Webhook.objects.filter(project=project).select_related("created_by").order_by("created_at", "id")


def webhook_get(*, project: Project, webhook_id: Any) -> Webhook:
    webhook_uuid = as_uuid(webhook_id)
    webhook = webhook_list(project=project).filter(pk=webhook_uuid).first() if webhook_uuid else None
    if webhook is None:
        raise ObjectNotFound("No such webhook in this project.")
    webhook.project = project  # already loaded and checked: spare the query
    return webhook


def delivery_list(*, webhook: Webhook) -> QuerySet[Delivery]:
    """Newest first."""
    return Delivery.objects.filter(webhook=webhook).order_by("-created_at", "-id")


def delivery_get(*, webhook: Webhook, delivery_id: Any) -> Delivery:
    delivery_uuid = as_uuid(delivery_id)
    delivery = delivery_list(webhook=webhook).filter(pk=delivery_uuid).first() if delivery_uuid else None
    if delivery is None:
        raise ObjectNotFound("No such delivery of this webhook.")
    delivery.webhook = webhook
    return delivery
