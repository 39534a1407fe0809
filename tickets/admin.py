"""Admin for projects, memberships, tickets with their comments and images, and the read-only event log."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import ngettext

from tickets.models import Comment, Event, EventType, Image, ImageStatus, Membership, PendingImageData, Project, Ticket
from tickets.services.images import images_retry_failed


def ticket_link(ticket_id: Any, label: str) -> str:
    """A link to a ticket's admin page, so events, comments and images lead back to their ticket."""
    return format_html('<a href="{}">{}</a>', reverse("admin:tickets_ticket_change", args=[ticket_id]), label)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "created_by", "last_ticket_number", "created_at"]
    search_fields = ["key", "name"]
    readonly_fields = ["id", "last_ticket_number", "created_at", "updated_at"]
    list_select_related = ["created_by"]
    autocomplete_fields = ["created_by"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["project", "user", "role", "created_at"]
    list_filter = ["role", "project"]
    search_fields = ["project__key", "user__email", "user__full_name"]
    list_select_related = ["project", "user"]
    autocomplete_fields = ["project", "user"]


class CommentInline(admin.StackedInline):
    model = Comment
    extra = 0
    fields = ["author", "body", "created_at"]
    readonly_fields = ["created_at"]
    autocomplete_fields = ["author"]


class ImageInline(admin.TabularInline):
    model = Image
    extra = 0
    fields = ("preview", "status", "original_filename", "format", "width", "height", "bytes", "error", "created_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # uploads go through the API, which validates them and runs the storing job

    @admin.display(description="thumbnail")
    def preview(self, image: Image) -> str:
        if not image.thumbnail_url:
            return "-"
        return format_html('<img src="{}" alt="" style="max-height: 64px">', image.thumbnail_url)


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ["key", "title", "status", "priority", "assignee", "due_date", "comment_count", "updated_at"]
    list_filter = ["status", "priority", "project", "due_date", "created_at"]
    search_fields = ["key", "title", "description"]
    list_select_related = ["project", "assignee"]
    readonly_fields = ["id", "key", "number", "version", "comment_count", "image_count", "created_at", "updated_at"]
    autocomplete_fields = ["project", "assignee", "reporter"]
    date_hierarchy = "created_at"
    inlines = [CommentInline, ImageInline]


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["id", "on_ticket", "author", "created_at", "updated_at"]
    list_filter = ["created_at"]
    search_fields = ["body", "ticket__key", "author__email"]
    list_select_related = ["ticket", "author"]
    autocomplete_fields = ["author"]
    readonly_fields = ["ticket", "created_at", "updated_at"]

    @admin.display(description="ticket", ordering="ticket__key")
    def on_ticket(self, comment: Comment) -> str:
        return ticket_link(comment.ticket_id, comment.ticket.key)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # comments are written through the API, which records their events


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """The history is written by services only; the admin shows it and never changes it."""

    list_display = ["seq", "type", "of_project", "on_ticket", "actor", "at"]
    list_filter = ["type", "project"]
    search_fields = ["=ticket", "type", "actor__email"]
    list_select_related = ["actor"]
    ordering = ["-seq"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Event]:
        # Not select_related: its inner join would hide `project.deleted`, whose project is gone.
        return super().get_queryset(request).prefetch_related("project")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in Event._meta.fields]

    @admin.display(description="project")
    def of_project(self, event: Event) -> str:
        if event.project is None:  # project.deleted: the project is named in the event's data
            return str(event.data.get("key", event.project_id))
        return str(event.project)

    @admin.display(description="ticket")
    def on_ticket(self, event: Event) -> str:
        if event.ticket is None:
            return "-"
        # Ticket events carry the ticket in `data`; comment and image events name it by id only.
        label = event.data.get("key") or str(event.ticket)
        if event.type == EventType.TICKET_DELETED:
            return label  # nothing left to link to
        return ticket_link(event.ticket, label)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def can_be_retried(image: Image) -> bool:
    """Failed with its uploaded bytes still kept; needs the `has_kept_bytes` annotation of `ImageAdmin`."""
    return image.status == ImageStatus.FAILED and bool(getattr(image, "has_kept_bytes", False))


class RetryableFilter(admin.SimpleListFilter):
    """Failed images split by whether their bytes are still kept (`IMAGE_FAILED_RETENTION_HOURS`)."""

    title = "failed image retry"
    parameter_name = "retry"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Can be retried"), ("no", "Cannot: bytes deleted")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Image]) -> QuerySet[Image]:
        if self.value() in ("yes", "no"):
            return queryset.filter(status=ImageStatus.FAILED, pending_data__isnull=self.value() == "no")
        return queryset


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = [
        "id", "on_ticket", "status", "retryable", "original_filename", "format", "bytes", "attempts", "created_at"
    ]  # fmt: skip
    list_filter = ["status", RetryableFilter, "format", "created_at"]
    search_fields = ["=id", "ticket__key", "original_filename"]
    list_select_related = ["ticket"]
    readonly_fields = [*(field.name for field in Image._meta.fields), "retry"]
    actions = ["retry_failed_images"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Image]:
        # One EXISTS per row in the same query, so the list shows retryability without a query per image.
        kept = PendingImageData.objects.filter(image=OuterRef("pk"))
        return super().get_queryset(request).annotate(has_kept_bytes=Exists(kept))

    @admin.display(description="ticket", ordering="ticket__key")
    def on_ticket(self, image: Image) -> str:
        return ticket_link(image.ticket_id, image.ticket.key)

    @admin.display(description="retryable", boolean=True)
    def retryable(self, image: Image) -> bool:
        return can_be_retried(image)

    @admin.display(description="retry")
    def retry(self, image: Image) -> str:
        if image.status != ImageStatus.FAILED:
            return "-"
        if can_be_retried(image):
            failed_at = image.processed_at or image.updated_at
            until = failed_at + timedelta(hours=settings.IMAGE_FAILED_RETENTION_HOURS)
            return f"Possible: its uploaded bytes are kept until {until:%Y-%m-%d %H:%M} UTC (list action)."
        return "Not possible: its uploaded bytes were deleted after the retention period; upload the file again."

    @admin.action(description="Retry selected failed images", permissions=["change"])
    def retry_failed_images(self, request: HttpRequest, queryset: QuerySet[Image]) -> None:
        outcome = images_retry_failed(image_ids=queryset.values_list("pk", flat=True), actor=request.user)  # type: ignore[arg-type]
        if outcome.queued:
            count = len(outcome.queued)
            message = ngettext(
                "Queued %d failed image for another try.", "Queued %d failed images for another try.", count
            )
            self.message_user(request, message % count, messages.SUCCESS)
        if outcome.not_failed:
            count = len(outcome.not_failed)
            message = ngettext(
                "Skipped %d image that is not failed (ready, pending or processing).",
                "Skipped %d images that are not failed (ready, pending or processing).",
                count,
            )
            self.message_user(request, message % count, messages.WARNING)
        if outcome.bytes_gone:
            count = len(outcome.bytes_gone)
            message = ngettext(
                "Skipped %d failed image whose uploaded bytes were deleted after %d hours "
                "(IMAGE_FAILED_RETENTION_HOURS): upload it again.",
                "Skipped %d failed images whose uploaded bytes were deleted after %d hours "
                "(IMAGE_FAILED_RETENTION_HOURS): upload them again.",
                count,
            )
            self.message_user(request, message % (count, settings.IMAGE_FAILED_RETENTION_HOURS), messages.WARNING)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deleting through the API also destroys the stored asset and records the event
