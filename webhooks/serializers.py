"""Input and output shapes of webhooks and their deliveries (SPEC §9).

A webhook's `secret` is write-only: only `WebhookWithSecretSerializer` shows it, and only the create
and rotate-secret answers use that one. Deliveries never carry it.
"""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tickets.models import EventType
from tickets.serializers import UserSummarySerializer
from webhooks.models import EVERY_EVENT, Delivery, Webhook
from webhooks.safety import check_url
from webhooks.secrets import secret_problem

# What `events` may name: the event types of SPEC §7, or "*" alone.
EVENT_TYPES = list(EventType.values)
URL_MAX_LENGTH = Webhook._meta.get_field("url").max_length
DESCRIPTION_MAX_LENGTH = Webhook._meta.get_field("description").max_length


class WebhookSerializer(serializers.ModelSerializer):
    """A webhook as the API shows it, without its secret."""

    project = serializers.UUIDField(source="project_id", read_only=True)
    created_by = UserSummarySerializer(read_only=True, allow_null=True)
    events = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Webhook
        fields = [
            "id",
            "project",
            "url",
            "events",
            "description",
            "active",
            "created_by",
            "created_at",
            "updated_at",
            "disabled_reason",
            "last_success_at",
            "last_failure_at",
        ]
        read_only_fields = fields


class WebhookWithSecretSerializer(WebhookSerializer):
    """The answer of a create or a rotation: the only time the secret is shown."""

    secret = serializers.CharField(
        read_only=True, help_text="`whsec_` + base64 of the key: keep it, it is never shown again."
    )

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class EventTypesField(serializers.ListField):
    """A non-empty list of event types, or `["*"]` for every one; repeats are dropped, the order kept."""

    default_error_messages = {
        "unknown": 'Unknown event type(s): {unknown}. Choose from: {allowed}; or ["*"] for all.',
        "star_alone": '"*" means every event type: send it alone.',
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            child=serializers.CharField(max_length=64),
            allow_empty=False,
            max_length=len(EVENT_TYPES) + 1,
            help_text=f'Event types to receive: {", ".join(EVENT_TYPES)}; or ["*"] for all.',
            **kwargs,
        )

    def to_internal_value(self, data: Any) -> list[str]:
        events = list(dict.fromkeys(super().to_internal_value(data)))
        if EVERY_EVENT in events:
            if len(events) > 1:
                self.fail("star_alone")
            return events
        unknown = [event for event in events if event not in EVENT_TYPES]
        if unknown:
            self.fail("unknown", unknown=", ".join(unknown), allowed=", ".join(EVENT_TYPES))
        return events


class SecretField(serializers.CharField):
    default_error_messages = {"invalid_secret": "{problem}"}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            write_only=True,
            max_length=Webhook._meta.get_field("secret").max_length,
            help_text="`whsec_` + base64 of 24 to 64 random bytes; generated when absent.",
            **kwargs,
        )

    def to_internal_value(self, data: Any) -> str:
        secret = super().to_internal_value(data)
        problem = secret_problem(secret)
        if problem:
            self.fail("invalid_secret", problem=problem)
        return secret


class WebhookWriteSerializer(serializers.Serializer):
    """Checks the URL's target (400 `unsafe_url`) once every field is otherwise valid: no DNS lookup
    for a body that is refused anyway."""

    url = serializers.URLField(max_length=URL_MAX_LENGTH, help_text="Where events are POSTed; https:// only.")
    events = EventTypesField()
    description = serializers.CharField(max_length=DESCRIPTION_MAX_LENGTH, allow_blank=True, required=False)
    active = serializers.BooleanField(required=False, help_text="`false` pauses deliveries; `true` re-enables.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "url" in attrs:
            check_url(attrs["url"])
        return attrs


class WebhookCreateSerializer(WebhookWriteSerializer):
    secret = SecretField(required=False)


class WebhookUpdateSerializer(WebhookWriteSerializer):
    url = serializers.URLField(max_length=URL_MAX_LENGTH, required=False, help_text="https:// only.")
    events = EventTypesField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "secret" in self.initial_data:
            raise serializers.ValidationError(
                {"secret": ["A secret changes through rotate-secret, which keeps the old one valid a while."]},
                code="immutable",
            )
        return super().validate(attrs)


class DeliverySerializer(serializers.ModelSerializer):
    """A delivery in a list: the outcome of its latest attempt."""

    webhook = serializers.UUIDField(source="webhook_id", read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "webhook",
            "event_id",
            "event_type",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_duration_ms",
            "last_error",
            "created_at",
            "delivered_at",
        ]
        read_only_fields = fields


class DeliveryResponseSerializer(serializers.Serializer):
    status_code = serializers.IntegerField(source="last_status_code")
    headers = serializers.DictField(source="response_headers", child=serializers.CharField())
    body = serializers.CharField(source="response_body", help_text="The first 2 KB of the answer's body.")


class DeliveryDetailSerializer(DeliverySerializer):
    """A delivery with what its latest attempt sent and what it got back (null before any answer)."""

    request_body = serializers.CharField(read_only=True, help_text="The JSON body sent, as signed.")
    response = serializers.SerializerMethodField()

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "request_body", "response"]
        read_only_fields = fields

    @extend_schema_field(DeliveryResponseSerializer(allow_null=True))
    def get_response(self, delivery: Delivery) -> dict[str, Any] | None:
        if delivery.last_status_code is None:
            return None
        return dict(DeliveryResponseSerializer(delivery).data)
