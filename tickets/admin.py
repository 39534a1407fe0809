"""Admin for projects, memberships, tickets with their comments and images, and the read-only event log.

Every write goes through the services, as the API's do (hopla/service_admin.py says how).
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Exists, OuterRef, QuerySet
from django.forms import BaseModelFormSet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import ngettext

from accounts.models import User
from hopla.service_admin import TEXT_AS_TYPED, ServiceAdmin, api_data, stored
from tickets.admin_forms import CommentForm, MembershipForm, ProjectForm, TicketForm
from tickets.models import (
    Comment,
    Event,
    EventType,
    Image,
    ImageStatus,
    Invitation,
    InvitationStatus,
    Membership,
    PendingImageData,
    Project,
    Role,
    Ticket,
)
from tickets.services.comments import comment_delete, comment_update
from tickets.services.images import image_delete, images_retry_failed
from tickets.services.invitations import invitation_revoke
from tickets.services.projects import (
    member_add,
    member_remove,
    member_update,
    project_create,
    project_delete,
    project_update,
)
from tickets.services.tickets import ticket_delete, ticket_update


def ticket_link(ticket_id: Any, label: str) -> str:
    """A link to a ticket's admin page, so events, comments and images lead back to their ticket."""
    return format_html('<a href="{}">{}</a>', reverse("admin:tickets_ticket_change", args=[ticket_id]), label)


def admin_actor(request: HttpRequest) -> User:
    """The staff user acting: the admin site serves only logged-in staff, so this is always a `User`."""
    user = request.user
    assert isinstance(user, User)
    return user


def _memberships_save(actor: User, project: Project, formset: BaseModelFormSet) -> None:
    """New members first, then role changes (promotions to admin before demotions), then removals: the
    order in which "a project keeps an admin" holds at every step when it holds at the end."""
    deleted = formset.deleted_forms
    additions = [form for form in formset.extra_forms if form.has_changed() and form not in deleted]
    changes = [form for form in formset.initial_forms if form.has_changed() and form not in deleted]
    removals = [form for form in formset.initial_forms if form in deleted]
    for form in additions:
        member_add(project=project, actor=actor, **api_data(form))
    for form in sorted(changes, key=lambda form: api_data(form)["role"] != Role.ADMIN):
        member_update(project=project, actor=actor, membership=stored(form.instance), **api_data(form))
    for form in removals:
        member_remove(project=project, actor=actor, membership=stored(form.instance))


def _comments_save(actor: User, formset: BaseModelFormSet) -> None:
    for form in formset.initial_forms:
        if form in formset.deleted_forms:
            comment_delete(comment=stored(form.instance), actor=actor)
        elif form.has_changed():
            comment_update(comment=stored(form.instance), actor=actor, **api_data(form))


class MembershipInline(admin.TabularInline):
    model = Membership
    form = MembershipForm
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Project)
class ProjectAdmin(ServiceAdmin):
    """Created, edited and deleted by the project services, members by the membership services (the
    inline too); the staff user who creates a project becomes its first admin, as through the API."""

    form = ProjectForm
    list_display = ["key", "name", "created_by", "last_ticket_number", "created_at"]
    search_fields = ["key", "name"]
    readonly_fields = ["id", "created_by", "last_ticket_number", "created_at", "updated_at"]
    list_select_related = ["created_by"]
    inlines = [MembershipInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return self.readonly_fields
        return ["key", *self.readonly_fields]  # ticket keys are built from it

    def save_model(self, request: HttpRequest, obj: Project, form: ProjectForm, change: bool) -> None:
        actor = admin_actor(request)
        if change:
            project_update(project=obj, actor=actor, data=form.api_data)
        else:
            # The admin goes on with the form's instance (inlines, log entry, redirect): the created row's id.
            obj.pk = project_create(actor=actor, **form.api_data).pk

    def save_formset(self, request: HttpRequest, form: ProjectForm, formset: BaseModelFormSet, change: bool) -> None:
        super().save_formset(request, form, formset, change)
        _memberships_save(admin_actor(request), form.instance, formset)

    def delete_model(self, request: HttpRequest, obj: Project) -> None:
        project_delete(project=obj, actor=admin_actor(request))

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, Any, set[str], Any]:
        to_delete, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # A project's history goes with it (project_delete), while the event admin refuses deleting
        # single events, which would leave holes in a history: that refusal does not stop this one.
        perms_needed.discard(str(Event._meta.verbose_name))
        return to_delete, counts, perms_needed, protected


@admin.register(Membership)
class MembershipAdmin(ServiceAdmin):
    """Added, changed and removed by the membership services: events, the last admin, unassignment."""

    form = MembershipForm
    list_display = ["project", "user", "role", "created_at"]
    list_filter = ["role", "project"]
    search_fields = ["project__key", "user__email", "user__full_name"]
    list_select_related = ["project", "user"]
    autocomplete_fields = ["project", "user"]
    refusal_fields = {"last_admin": "role"}

    def save_model(self, request: HttpRequest, obj: Membership, form: MembershipForm, change: bool) -> None:
        actor = admin_actor(request)
        if not change:
            obj.pk = member_add(project=obj.project, actor=actor, **form.api_data).pk
        elif form.api_data:
            member_update(project=obj.project, actor=actor, membership=stored(obj), **form.api_data)

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        member_remove(project=obj.project, actor=admin_actor(request), membership=obj)


class CommentInline(admin.StackedInline):
    """Edited or removed here; not added: a comment speaks for its author, and the staff user may not
    be a member of the ticket's project."""

    model = Comment
    form = CommentForm
    formfield_overrides = TEXT_AS_TYPED
    extra = 0
    fields = ["author", "body", "created_at"]
    readonly_fields = ["author", "created_at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ImageInline(admin.TabularInline):
    model = Image
    extra = 0
    fields = ("preview", "status", "original_filename", "format", "width", "height", "bytes", "error", "created_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # uploads go through the API, which validates them and runs the storing job

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the worker fills an image in; deleting one is the image admin's (image_delete)

    @admin.display(description="thumbnail")
    def preview(self, image: Image) -> str:
        if not image.thumbnail_url:
            return "-"
        return format_html('<img src="{}" alt="" style="max-height: 64px">', image.thumbnail_url)


@admin.register(Ticket)
class TicketAdmin(ServiceAdmin):
    """Changed through ticket_update (workflow, `version`, `closed_at`, event), deleted through
    ticket_delete; comments in the inline through the comment services.

    Not added here: ticket_create checks, in the statement that numbers the ticket, that its actor
    may create tickets in the project and makes the actor the reporter; a staff user is often no
    member. Tickets are created through the API or the board."""

    form = TicketForm
    list_display = ["key", "title", "status", "priority", "assignee", "due_date", "comment_count", "updated_at"]
    list_filter = ["status", "priority", "project", "due_date", "created_at"]
    search_fields = ["key", "title", "description"]
    list_select_related = ["project", "assignee"]
    fields = [
        "id", "key", "project", "title", "description", "status", "priority", "labels", "assignee", "reporter",
        "due_date", "version", "comment_count", "image_count", "created_at", "updated_at", "closed_at", "read_version",
    ]  # fmt: skip
    readonly_fields = [
        "id", "key", "project", "reporter", "version", "comment_count", "image_count", "created_at", "updated_at",
        "closed_at",
    ]  # fmt: skip
    autocomplete_fields = ["assignee"]
    date_hierarchy = "created_at"
    inlines = [CommentInline, ImageInline]
    refusal_fields = {"invalid_transition": "status"}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Ticket, form: TicketForm, change: bool) -> None:
        ticket_update(
            ticket=obj,
            actor=admin_actor(request),
            data=form.api_data,
            # Checked again under the service's row lock: a save that raced another since clean().
            expected_version=form.cleaned_data.get("read_version"),
        )

    def save_formset(self, request: HttpRequest, form: TicketForm, formset: BaseModelFormSet, change: bool) -> None:
        super().save_formset(request, form, formset, change)
        if formset.model is Comment:  # the image inline is read-only
            _comments_save(admin_actor(request), formset)

    def delete_model(self, request: HttpRequest, obj: Ticket) -> None:
        ticket_delete(ticket=obj, actor=admin_actor(request))


@admin.register(Comment)
class CommentAdmin(ServiceAdmin):
    """Edited and deleted through the comment services; not added (see CommentInline)."""

    form = CommentForm
    list_display = ["id", "on_ticket", "author", "created_at", "updated_at"]
    list_filter = ["created_at"]
    search_fields = ["body", "ticket__key", "author__email"]
    list_select_related = ["ticket", "author"]
    fields = ["ticket", "author", "body", "created_at", "updated_at"]
    readonly_fields = ["ticket", "author", "created_at", "updated_at"]

    @admin.display(description="ticket", ordering="ticket__key")
    def on_ticket(self, comment: Comment) -> str:
        return ticket_link(comment.ticket_id, comment.ticket.key)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Comment, form: CommentForm, change: bool) -> None:
        if form.api_data:
            comment_update(comment=stored(obj), actor=admin_actor(request), **form.api_data)

    def delete_model(self, request: HttpRequest, obj: Comment) -> None:
        comment_delete(comment=obj, actor=admin_actor(request))


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
class ImageAdmin(ServiceAdmin):
    """Read-only but for deletion, through image_delete (the event, the stored asset), and retries."""

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

    def save_model(self, request: HttpRequest, obj: Image, form: Any, change: bool) -> None:
        """Every field is read-only: nothing to save (the model's save would only touch `updated_at`)."""

    def delete_model(self, request: HttpRequest, obj: Image) -> None:
        image_delete(image=obj, actor=admin_actor(request))


class InvitationStatusFilter(admin.SimpleListFilter):
    """Invitations by where they stand, worked out from their timestamps as `Invitation.status_at` does."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(choice.value, str(choice.label)) for choice in InvitationStatus]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Invitation]) -> QuerySet[Invitation]:
        now = timezone.now()
        open_ = {"accepted_at__isnull": True, "revoked_at__isnull": True}
        filters: dict[str | None, dict[str, Any]] = {
            InvitationStatus.PENDING: {**open_, "expires_at__gt": now},
            InvitationStatus.EXPIRED: {**open_, "expires_at__lte": now},
            InvitationStatus.ACCEPTED: {"accepted_at__isnull": False},
            InvitationStatus.REVOKED: {"accepted_at__isnull": True, "revoked_at__isnull": False},
        }
        chosen = filters.get(self.value())
        return queryset.filter(**chosen) if chosen is not None else queryset


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Read-only: invitations are made by adding a member by email (API), and closed by their use or
    by the revoke action here. The link's token is never shown: it is the id signed with SECRET_KEY,
    made only into the email."""

    list_display = ["email", "project", "role", "status", "invited_by", "created_at", "expires_at", "accepted_by"]
    list_filter = [InvitationStatusFilter, "project", "role"]
    search_fields = ["email", "project__key"]
    list_select_related = ["project", "invited_by", "accepted_by"]
    ordering = ["-created_at"]
    actions = ["revoke"]

    @admin.display(description="status")
    def status(self, invitation: Invitation) -> str:
        return str(invitation.status_at(timezone.now()).label)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in Invitation._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead: an accepted invitation is the record of how someone joined

    @admin.action(description="Revoke the selected invitations (their links stop working)", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[Invitation]) -> None:
        revoked = 0
        for invitation in queryset:
            if invitation.status_at(timezone.now()) in (InvitationStatus.PENDING, InvitationStatus.EXPIRED):
                invitation_revoke(invitation=invitation)
                revoked += 1
        self.message_user(
            request, ngettext("%d invitation revoked.", "%d invitations revoked.", revoked) % revoked, messages.SUCCESS
        )
