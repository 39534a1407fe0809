"""Admin for webhooks and their deliveries: changes through the services, secrets never shown.

Webhooks are edited (URL, events, description, active) through webhook_update with the API's input
checks, deleted through webhook_delete, and not added here: a secret is shown once, in the API's
create answer. Deliveries are read-only but for "Redeliver selected" (delivery_redeliver).
"""

from typing import Any

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import ngettext
from rest_framework import serializers

from hopla.api.exceptions import StateConflict
from hopla.service_admin import TEXT_AS_TYPED, ApiInputForm, ServiceAdmin, add_refusal, stored
from webhooks.models import Delivery, Webhook
from webhooks.safety import UnsafeUrl
from webhooks.serializers import WebhookUpdateSerializer
from webhooks.services import delivery_redeliver, webhook_delete, webhook_update

# Never on a page: `secret` and `previous_secret` sign requests; whoever reads them can forge hopla's.
SECRET_FIELDS = ("secret", "previous_secret")


class WebhookForm(ApiInputForm):
    def api_input(self, data: dict[str, Any]) -> serializers.Serializer:
        return WebhookUpdateSerializer(data=data, partial=True)

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except UnsafeUrl as refusal:  # the API answers it 400 `unsafe_url`; here it belongs to the URL field
            add_refusal(self, refusal, {"unsafe_url": "url"})
            return self.cleaned_data


@admin.register(Webhook)
class WebhookAdmin(ServiceAdmin):
    form = WebhookForm
    exclude = SECRET_FIELDS
    # A URL typed without a scheme is taken as https, the only scheme webhooks use by default.
    formfield_overrides = {**TEXT_AS_TYPED, models.URLField: {"assume_scheme": "https"}}
    list_display = ["url", "project", "active", "subscribed_to", "last_success_at", "last_failure_at", "created_at"]
    list_filter = ["active", "project", "created_at"]
    search_fields = ["url", "description", "project__key"]
    list_select_related = ["project"]
    fields = [
        "id", "project", "url", "events", "description", "active", "disabled_reason", "consecutive_failures",
        "last_success_at", "last_failure_at", "previous_secret_expires_at", "created_by", "created_at", "updated_at",
        "deliveries",
    ]  # fmt: skip
    readonly_fields = [
        "id", "project", "disabled_reason", "consecutive_failures", "last_success_at", "last_failure_at",
        "previous_secret_expires_at", "created_by", "created_at", "updated_at", "deliveries",
    ]  # fmt: skip

    @admin.display(description="events")
    def subscribed_to(self, webhook: Webhook) -> str:
        return ", ".join(webhook.events)

    @admin.display(description="deliveries")
    def deliveries(self, webhook: Webhook) -> str:
        url = reverse("admin:webhooks_delivery_changelist") + f"?webhook__id__exact={webhook.pk}"
        return format_html('<a href="{}">Its deliveries</a>', url)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Webhook, form: WebhookForm, change: bool) -> None:
        if form.api_data:
            webhook_update(webhook=stored(obj), data=form.api_data)

    def delete_model(self, request: HttpRequest, obj: Webhook) -> None:
        webhook_delete(webhook=obj)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, Any, set[str], Any]:
        to_delete, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Its deliveries go with it (webhook_delete), while the delivery admin refuses deleting single
        # ones: that refusal does not stop this one.
        perms_needed.discard(str(Delivery._meta.verbose_name))
        return to_delete, counts, perms_needed, protected


@admin.register(Delivery)
class DeliveryAdmin(ServiceAdmin):
    list_display = [
        "event_type", "to_webhook", "status", "attempts", "last_status_code", "next_attempt_at", "created_at",
        "delivered_at",
    ]  # fmt: skip
    list_filter = ["status", "event_type", "webhook__project", "webhook", "created_at"]
    search_fields = ["=event_id", "webhook__url", "last_error"]
    list_select_related = ["webhook"]
    readonly_fields = [field.name for field in Delivery._meta.fields]
    actions = ["redeliver_selected"]

    @admin.display(description="webhook", ordering="webhook__url")
    def to_webhook(self, delivery: Delivery) -> str:
        url = reverse("admin:webhooks_webhook_change", args=[delivery.webhook_id])
        return format_html('<a href="{}">{}</a>', url, delivery.webhook.url)

    @admin.action(description="Redeliver selected", permissions=["change"])
    def redeliver_selected(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        queued = still_pending = 0
        for delivery in queryset:
            try:
                delivery_redeliver(delivery=delivery)
                queued += 1
            except StateConflict:  # its next attempt is already scheduled: nothing to add
                still_pending += 1
        if queued:
            message = ngettext("Queued %d delivery again.", "Queued %d deliveries again.", queued)
            self.message_user(request, message % queued, messages.SUCCESS)
        if still_pending:
            message = ngettext(
                "Skipped %d delivery that is still pending.",
                "Skipped %d deliveries that are still pending.",
                still_pending,
            )
            self.message_user(request, message % still_pending, messages.WARNING)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a delivery is the record that an event reached (or did not reach) its webhook

    def save_model(self, request: HttpRequest, obj: Delivery, form: Any, change: bool) -> None:
        """Every field is read-only: nothing to save."""
