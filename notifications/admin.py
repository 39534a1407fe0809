"""Admin for notifications: read-only records of who was told what, with "Mark selected read"
(through the read service). They are made by the worker only, never added or edited here."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import ngettext

from notifications.models import Notification
from notifications.services import notification_read


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["user", "reason", "event_type", "ticket_key", "project", "read_at", "emailed_at", "created_at"]
    list_filter = ["reason", "project", "created_at", "read_at"]
    search_fields = ["user__email", "=event__id"]
    list_select_related = ["user", "project", "event"]
    readonly_fields = [field.name for field in Notification._meta.fields]
    actions = ["mark_read"]

    @admin.display(description="event", ordering="event__seq")
    def event_type(self, notification: Notification) -> str:
        return f"#{notification.event.seq} {notification.event.type}"

    @admin.display(description="ticket")
    def ticket_key(self, notification: Notification) -> str:
        return str(notification.ticket.get("key", ""))

    @admin.action(description="Mark selected read", permissions=["change"])
    def mark_read(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        unread = list(queryset.filter(read_at__isnull=True))
        for notification in unread:
            notification_read(notification=notification)
        message = ngettext("Marked %d notification read.", "Marked %d notifications read.", len(unread))
        self.message_user(request, message % len(unread), messages.SUCCESS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made by the worker from the event table

    def save_model(self, request: HttpRequest, obj: Notification, form: Any, change: bool) -> None:
        """Every field is read-only: nothing to save."""
