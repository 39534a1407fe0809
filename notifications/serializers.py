"""Shapes of notifications (SPEC §11)."""

from rest_framework import serializers

from notifications.models import Notification
from tickets.serializers import EventSerializer


class TicketSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    key = serializers.CharField()
    title = serializers.CharField()


class NotificationSerializer(serializers.ModelSerializer):
    event = EventSerializer(read_only=True)
    ticket = TicketSummarySerializer(read_only=True, help_text="The ticket as it was when notified.")
    project = serializers.UUIDField(source="project_id", read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "reason", "event", "ticket", "project", "read_at", "created_at"]
        read_only_fields = fields


class ReadAllSerializer(serializers.Serializer):
    before = serializers.DateTimeField(
        required=False, help_text="Only the notifications made before this time (ISO 8601); all unread if left out."
    )


class UnreadCountSerializer(serializers.Serializer):
    count = serializers.IntegerField()
