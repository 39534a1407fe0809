"""The signed-in user's notifications (SPEC §11): list, unread count, mark read."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.actor import ActorMixin
from notifications import examples, selectors, services
from notifications.models import Notification
from notifications.serializers import NotificationSerializer, ReadAllSerializer, UnreadCountSerializer

UNREAD = OpenApiParameter(
    "unread", OpenApiTypes.BOOL, description="`true`: only the notifications not yet read.", required=False
)


def _unread_only(value: str | None) -> bool:
    """`?unread=true|false` (or absent); anything else is a 400 naming the parameter."""
    if value is None or value.lower() in ("false", "0"):
        return False
    if value.lower() in ("true", "1"):
        return True
    raise ValidationError({"unread": ["Must be true or false."]}, code="invalid")


@extend_schema_view(
    list=extend_schema(
        parameters=[UNREAD],
        summary="Your notifications, newest first",
        examples=[OpenApiExample("Assigned to you", value=examples.NOTIFICATION, response_only=True)],
    ),
    unread_count=extend_schema(
        responses={200: UnreadCountSerializer},
        summary="How many of your notifications are unread",
        examples=[OpenApiExample("Three unread", value={"count": 3}, response_only=True)],
    ),
    read=extend_schema(request=None, responses={204: None}, summary="Mark a notification read"),
    read_all=extend_schema(
        request=ReadAllSerializer,
        responses={204: None},
        summary="Mark all your notifications read (those made before `before` only, if given)",
        examples=[
            OpenApiExample("Everything", value={}, request_only=True),
            OpenApiExample("What you have shown", value={"before": "2031-01-15T09:30:00Z"}, request_only=True),
        ],
    ),
)
@extend_schema(tags=["notifications"])
class NotificationViewSet(ActorMixin, viewsets.GenericViewSet):
    queryset = Notification.objects.none()
    serializer_class = NotificationSerializer
    lookup_url_kwarg = "notification_id"
    filter_backends: list[type] = []

    def list(self, request: Request) -> Response:
        unread = _unread_only(request.query_params.get("unread"))
        notifications = selectors.notification_list(user=self.actor, unread=unread)
        assert self.paginator is not None
        page = self.paginator.paginate_queryset(notifications, request, view=self)
        return self.get_paginated_response(NotificationSerializer(page, many=True).data)

    @action(detail=False, methods=["get"], url_path="unread-count")
    def unread_count(self, request: Request) -> Response:
        return Response({"count": selectors.notification_unread_count(user=self.actor)})

    @action(detail=True, methods=["post"])
    def read(self, request: Request, notification_id: str) -> Response:
        services.notification_read(
            notification=selectors.notification_get(user=self.actor, notification_id=notification_id)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request: Request) -> Response:
        serializer = ReadAllSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        services.notifications_read_all(user=self.actor, before=serializer.validated_data.get("before"))
        return Response(status=status.HTTP_204_NO_CONTENT)
