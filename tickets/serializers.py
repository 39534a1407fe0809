"""Input and output shapes of projects, members, tickets, comments and events.

Output serializers render only what their queryset already loaded (selectors select_related it),
so a page of any size costs the same number of queries.
"""

import re
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from accounts.models import User, normalize_email
from accounts.selectors import user_find
from hopla.api.input import PrototypeFields
from hopla.api.representation import ContextFreeRepresentation
from tickets.models import (
    PROJECT_KEY_PATTERN,
    Comment,
    Event,
    Image,
    ImportFormat,
    Invitation,
    Membership,
    Priority,
    Project,
    Role,
    Status,
    Ticket,
    TicketImport,
)

MAX_LABELS = 20
MAX_LABEL_LENGTH = 50
_LABEL_FORBIDDEN = re.compile(r"[,\x00-\x1f\x7f]")


class UserSummarySerializer(ContextFreeRepresentation, serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "full_name"]
        read_only_fields = fields


class ProjectSerializer(serializers.ModelSerializer):
    created_by = UserSummarySerializer(read_only=True)
    my_role = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = ["id", "key", "name", "description", "created_by", "created_at", "updated_at", "my_role"]
        read_only_fields = ["id", "created_by", "created_at", "updated_at", "my_role"]
        extra_kwargs = {"description": {"max_length": 10_000}}

    def get_my_role(self, project: Project) -> str | None:
        return getattr(project, "my_role", None)


class ProjectCreateSerializer(serializers.Serializer):
    key = serializers.RegexField(
        PROJECT_KEY_PATTERN,
        max_length=10,
        error_messages={"invalid": "2 to 10 upper-case letters or digits, starting with a letter (e.g. OPS)."},
    )
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=10_000, allow_blank=True, required=False, default="")


class ProjectUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=10_000, allow_blank=True, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "key" in self.initial_data:
            raise serializers.ValidationError(
                {"key": ["A project's key cannot change: ticket keys are built from it."]}, code="immutable"
            )
        return attrs


class MembershipSerializer(serializers.ModelSerializer):
    user = UserSummarySerializer(read_only=True)
    joined_at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Membership
        fields = ["user", "role", "joined_at"]


class UserReferenceField(serializers.CharField):
    """An active user named by id or by email (any case), as people name them; with `me=True` also
    `"me"`, the acting user (the serializer's context `actor`). Unknown: 400 `does_not_exist`."""

    default_error_messages = {"does_not_exist": "No active user with this id or email."}

    def __init__(self, *, me: bool = False, **kwargs: Any) -> None:
        self.me = me
        super().__init__(max_length=254, **kwargs)

    def run_validation(self, data: Any = serializers.empty) -> User | None:
        reference = super().run_validation(data)  # the text's own checks first: type, null, blank, length
        if reference is None:
            return None
        if self.me and reference == "me":
            actor: User = self.context["actor"]
            return actor
        user = user_find(reference=reference)
        if user is None:
            self.fail("does_not_exist")
        return user


class MemberAddSerializer(serializers.Serializer):
    """`user` names an active user (id or email, any case), who is added; or an email that has no
    account, which is invited (SPEC §4). Anything else is 400 `does_not_exist`."""

    user = serializers.CharField(
        max_length=254, help_text="The user's id or email; an email with no account gets an invitation."
    )
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)

    def validate_user(self, reference: str) -> User | str:
        """The user to add, or the (normalised) email to invite."""
        user = user_find(reference=reference)
        if user is not None:
            return user
        email = normalize_email(reference)
        try:
            EmailValidator()(email)
        except DjangoValidationError:
            email = ""
        # An inactive account keeps its email: it cannot register again, so it cannot be invited.
        if not email or User.objects.filter(email=email).exists():
            raise serializers.ValidationError("No active user with this id or email.", code="does_not_exist")
        return email


class InvitationSerializer(serializers.ModelSerializer):
    """A pending invitation as admins see it; its link's token is only ever in the email."""

    invited_by = UserSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "invited_by", "created_at", "expires_at"]
        read_only_fields = fields


class MemberUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class PriorityField(serializers.ChoiceField):
    """Priorities travel by name (`high`) and are stored by severity (3)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=[label for _, label in Priority.choices], **kwargs)

    def to_internal_value(self, data: Any) -> int:  # type: ignore[override]
        name = super().to_internal_value(data)
        return next(value for value, label in Priority.choices if label == name)

    def to_representation(self, value: Any) -> str:
        return Priority(value).label


class LabelsField(serializers.ListField):
    """Labels are trimmed, lower-cased and de-duplicated, in the order given."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            child=serializers.CharField(max_length=MAX_LABEL_LENGTH, trim_whitespace=True),
            max_length=MAX_LABELS,
            **kwargs,
        )

    def to_internal_value(self, data: Any) -> list[str]:
        labels: list[str] = []
        for label in super().to_internal_value(data):
            label = " ".join(label.lower().split())
            if _LABEL_FORBIDDEN.search(label):
                raise serializers.ValidationError("Labels cannot contain commas or control characters.", code="invalid")
            if label not in labels:
                labels.append(label)
        return labels


class TicketSerializer(ContextFreeRepresentation, serializers.ModelSerializer):
    """A ticket as the API shows it."""

    project = serializers.UUIDField(source="project_id", read_only=True)
    priority = PriorityField(read_only=True)
    assignee = UserSummarySerializer(read_only=True, allow_null=True)
    reporter = UserSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = Ticket
        fields = [
            "id",
            "key",
            "project",
            "title",
            "description",
            "status",
            "priority",
            "labels",
            "assignee",
            "reporter",
            "due_date",
            "version",
            "comment_count",
            "image_count",
            "created_at",
            "updated_at",
            "closed_at",
        ]
        read_only_fields = fields


@extend_schema_serializer(component_name="Ticket")
class TicketWatchingSerializer(TicketSerializer):
    """A ticket as the API answers it to one reader: with whether the reader watches it and how many
    watch it (SPEC §11). Events carry TicketSerializer's, which is the same for everyone."""

    is_watching = serializers.BooleanField(read_only=True, help_text="Whether you watch the ticket.")
    watcher_count = serializers.IntegerField(read_only=True, help_text="How many members watch the ticket.")

    class Meta(TicketSerializer.Meta):
        fields = [*TicketSerializer.Meta.fields, "is_watching", "watcher_count"]
        read_only_fields = fields


class TicketWriteSerializer(PrototypeFields):
    """Fields a member may set; `project` only on create, `status` only on update (through the workflow)."""

    title = serializers.CharField(min_length=1, max_length=200)
    description = serializers.CharField(max_length=50_000, allow_blank=True, required=False, trim_whitespace=False)
    priority = PriorityField(required=False)
    labels = LabelsField(required=False)
    assignee = UserReferenceField(
        me=True,
        allow_null=True,
        required=False,
        help_text='A project member, by id or email (any case), or `"me"`; null leaves the ticket unassigned.',
    )
    due_date = serializers.DateField(allow_null=True, required=False)


class TicketCreateSerializer(TicketWriteSerializer):
    """A new ticket; it starts `open`: a `status` here is a 400 `status_on_create` (move it with a PATCH)."""

    project = serializers.CharField(max_length=64, help_text="The project's id or key.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "status" in self.initial_data:
            raise serializers.ValidationError(
                {"status": ["A ticket starts open; change its status once it exists (PATCH)."]},
                code="status_on_create",
            )
        return attrs


class TicketUpdateSerializer(TicketWriteSerializer):
    title = serializers.CharField(min_length=1, max_length=200, required=False)
    status = serializers.ChoiceField(choices=Status.choices, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "project" in self.initial_data:
            raise serializers.ValidationError(
                {"project": ["A ticket cannot move to another project."]}, code="immutable"
            )
        return attrs


class CommentSerializer(serializers.ModelSerializer):
    ticket = serializers.UUIDField(source="ticket_id", read_only=True)
    author = UserSummarySerializer(read_only=True, allow_null=True)
    body = serializers.CharField(min_length=1, max_length=10_000, trim_whitespace=False)

    class Meta:
        model = Comment
        fields = ["id", "ticket", "author", "body", "created_at", "updated_at"]
        read_only_fields = ["id", "ticket", "author", "created_at", "updated_at"]

    def validate_body(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("A comment cannot be blank.", code="blank")
        return value


class ImageSerializer(serializers.ModelSerializer):
    ticket = serializers.UUIDField(source="ticket_id", read_only=True)
    # Empty until the image is ready: plain strings in the schema, not `format: uri` ("" is no URI).
    url = serializers.CharField(read_only=True, help_text="The stored image; empty until `status` is `ready`.")
    thumbnail_url = serializers.CharField(read_only=True, help_text="Its thumbnail; empty until `status` is `ready`.")
    uploaded_by = UserSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = Image
        fields = [
            "id",
            "ticket",
            "status",
            "original_filename",
            "content_type",
            "bytes",
            "width",
            "height",
            "format",
            "url",
            "thumbnail_url",
            "error",
            "uploaded_by",
            "created_at",
            "processed_at",
        ]
        read_only_fields = fields

    def to_representation(self, instance: Image) -> dict[str, Any]:
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is not None:
            # Local storage URLs are paths (/media/...): answer them absolute, like Cloudinary's.
            for field in ("url", "thumbnail_url"):
                if data[field].startswith("/"):
                    data[field] = request.build_absolute_uri(data[field])
        return data


class ImageUploadSerializer(serializers.Serializer):
    """Documents the multipart body; the file itself is judged by tickets.image_validation."""

    image = serializers.FileField(help_text="A JPEG, PNG, GIF or WebP image.")


class EventSerializer(ContextFreeRepresentation, serializers.ModelSerializer):
    project = serializers.UUIDField(source="project_id", read_only=True)
    actor = UserSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = Event
        fields = ["id", "seq", "type", "project", "ticket", "actor", "at", "changes", "data"]
        read_only_fields = fields


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "description": "A ticket id or key.", "example": "OPS-12"},
            {
                "type": "object",
                "properties": {
                    "ticket": {"type": "string", "description": "A ticket id or key."},
                    "if_match": {"type": "string", "description": "Its ETag, as a GET answered it.", "example": '"3"'},
                },
                "required": ["ticket"],
                "additionalProperties": False,
            },
        ]
    }
)
class BulkTargetField(serializers.Field):
    """A ticket in a bulk change: its id or key, or `{"ticket": <id or key>, "if_match": <its ETag>}`."""

    default_error_messages = {
        "invalid": 'Expected a ticket id or key, or {{"ticket": <id or key>, "if_match": "<ETag>"}}.',
    }

    def to_internal_value(self, data: Any) -> tuple[str, str | None]:
        if isinstance(data, str) and 0 < len(data) <= 64:
            return data, None
        if isinstance(data, dict) and set(data) <= {"ticket", "if_match"}:
            reference, if_match = data.get("ticket"), data.get("if_match")
            if isinstance(reference, str) and 0 < len(reference) <= 64 and isinstance(if_match, str | None):
                return reference, if_match
        self.fail("invalid")

    def to_representation(self, value: Any) -> Any:
        return value


class TicketBulkSetSerializer(PrototypeFields):
    """The fields a bulk change sets on every ticket; any other field is refused."""

    status = serializers.ChoiceField(choices=Status.choices, required=False)
    priority = PriorityField(required=False)
    assignee = UserReferenceField(
        me=True, allow_null=True, required=False, help_text='A member by id or email, `"me"`, or null.'
    )
    due_date = serializers.DateField(allow_null=True, required=False)

    def to_internal_value(self, data: Any) -> Any:
        unknown = set(data) - set(self.fields) if isinstance(data, dict) else set()
        if unknown:
            raise serializers.ValidationError(
                f"Only {', '.join(self.fields)} can be set in bulk, not {', '.join(sorted(unknown))}.", code="invalid"
            )
        return super().to_internal_value(data)


class TicketBulkSerializer(PrototypeFields):
    """A bulk change: which tickets, and what to do to each of them."""

    tickets = serializers.ListField(
        child=BulkTargetField(),
        min_length=1,
        max_length=500,
        help_text='Ticket ids or keys, or {"ticket", "if_match"} objects to change only at that version; at most 500.',
    )
    set = TicketBulkSetSerializer(required=False)
    labels_add = LabelsField(required=False)
    labels_remove = LabelsField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not (attrs.get("set") or attrs.get("labels_add") or attrs.get("labels_remove")):
            raise serializers.ValidationError(
                "Say what to change: `set`, `labels_add` or `labels_remove`.", code="nothing_to_change"
            )
        return attrs


class TicketImportSerializer(serializers.ModelSerializer):
    """An import and its progress."""

    class Meta:
        model = TicketImport
        fields = [
            "id", "status", "format", "dry_run", "total", "processed", "created", "skipped", "errors", "created_at",
            "finished_at",
        ]  # fmt: skip
        read_only_fields = fields


class TicketImportCreateSerializer(serializers.Serializer):
    """The multipart form of a new import."""

    file = serializers.FileField(help_text="The file: hopla's export CSV, GitHub's issues JSON or Jira's CSV export.")
    format = serializers.ChoiceField(choices=ImportFormat.choices)
    dry_run = serializers.BooleanField(default=False, help_text="Read and check everything, write nothing.")
