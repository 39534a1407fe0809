"""Webhook and delivery endpoints under a project (SPEC §9): for the project's admins only.

Members and viewers get 403, outsiders 404; a webhook or delivery is looked up only under the project
(and webhook) already checked, so another project's answers 404 like a missing one.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from tickets.apis import HoplaViewSet
from tickets.models import Project, Role
from webhooks import examples, selectors, services
from webhooks.filters import DeliveryFilter
from webhooks.models import Delivery, Webhook
from webhooks.serializers import (
    DeliveryDetailSerializer,
    DeliverySerializer,
    WebhookCreateSerializer,
    WebhookSerializer,
    WebhookUpdateSerializer,
    WebhookWithSecretSerializer,
)

# The columns only a delivery's detail shows: a list page does not read the bodies it sent and received.
DETAIL_ONLY_COLUMNS = ("payload", "request_body", "response_headers", "response_body")


class ProjectWebhooksViewSet(HoplaViewSet):
    """Resolves the project for its admins, and the webhook under it."""

    def project_admin(self, project: str) -> Project:
        return self.project_for(project, Role.ADMIN, "manage webhooks")

    def webhook_for(self, project: str, webhook_id: str) -> Webhook:
        return selectors.webhook_get(project=self.project_admin(project), webhook_id=webhook_id)


@extend_schema_view(
    list=extend_schema(
        summary="The project's webhooks (admins)",
        examples=[OpenApiExample("A webhook", value=examples.WEBHOOK, response_only=True)],
    ),
    create=extend_schema(
        request=WebhookCreateSerializer,
        responses={201: WebhookWithSecretSerializer},
        summary="Register a webhook (admins); the answer shows its secret, never shown again",
        examples=[
            OpenApiExample("Every event, secret generated", value=examples.CREATE_ALL, request_only=True),
            OpenApiExample("Some events, your own secret", value=examples.CREATE_SOME, request_only=True),
            OpenApiExample("Registered", value=examples.WEBHOOK_WITH_SECRET, response_only=True, status_codes=["201"]),
        ],
    ),
    retrieve=extend_schema(
        summary="One webhook (admins)",
        examples=[OpenApiExample("A webhook", value=examples.WEBHOOK, response_only=True)],
    ),
    partial_update=extend_schema(
        request=WebhookUpdateSerializer,
        summary="Edit a webhook (admins); `active: true` re-enables a disabled one",
        examples=[
            OpenApiExample("Re-enable", value={"active": True}, request_only=True),
            OpenApiExample("Other events", value={"events": ["ticket.created", "ticket.updated"]}, request_only=True),
            OpenApiExample("Edited", value=examples.WEBHOOK, response_only=True),
        ],
    ),
    destroy=extend_schema(summary="Delete a webhook and cancel its pending deliveries (admins)"),
)
@extend_schema(tags=["webhooks"])
class WebhookViewSet(ProjectWebhooksViewSet):
    """Endpoints that receive the project's events, signed as Standard Webhooks (`webhook-id`,
    `webhook-timestamp`, `webhook-signature`). For the project's admins: members and viewers get 403."""

    queryset = Webhook.objects.none()
    serializer_class = WebhookSerializer
    lookup_url_kwarg = "webhook_id"

    def list(self, request: Request, project: str) -> Response:
        return self.paginated(selectors.webhook_list(project=self.project_admin(project)), WebhookSerializer)

    def create(self, request: Request, project: str) -> Response:
        instance = self.project_admin(project)
        serializer = WebhookCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        webhook = services.webhook_create(project=instance, actor=self.actor, **serializer.validated_data)
        return Response(WebhookWithSecretSerializer(webhook).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, project: str, webhook_id: str) -> Response:
        return Response(WebhookSerializer(self.webhook_for(project, webhook_id)).data)

    def partial_update(self, request: Request, project: str, webhook_id: str) -> Response:
        webhook = self.webhook_for(project, webhook_id)
        serializer = WebhookUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        updated = services.webhook_update(webhook=webhook, data=dict(serializer.validated_data))
        return Response(WebhookSerializer(updated).data)

    def destroy(self, request: Request, project: str, webhook_id: str) -> Response:
        services.webhook_delete(webhook=self.webhook_for(project, webhook_id))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=None,
        responses={202: DeliveryDetailSerializer},
        summary="Send a webhook.ping event to the webhook now (admins)",
        examples=[
            OpenApiExample("Ping queued", value=examples.PING_DELIVERY, response_only=True, status_codes=["202"])
        ],
    )
    def ping(self, request: Request, project: str, webhook_id: str) -> Response:
        delivery = services.webhook_ping(webhook=self.webhook_for(project, webhook_id))
        return Response(DeliveryDetailSerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None,
        responses={200: WebhookWithSecretSerializer},
        summary="Replace the secret (admins); the old one still signs for WEBHOOK_SECRET_OVERLAP_HOURS",
        examples=[OpenApiExample("Rotated", value=examples.WEBHOOK_WITH_SECRET, response_only=True)],
    )
    def rotate_secret(self, request: Request, project: str, webhook_id: str) -> Response:
        webhook = services.webhook_rotate_secret(webhook=self.webhook_for(project, webhook_id))
        return Response(WebhookWithSecretSerializer(webhook).data)


@extend_schema_view(
    list=extend_schema(
        summary="The webhook's deliveries, newest first (admins)",
        parameters=[
            OpenApiParameter(
                "status",
                OpenApiTypes.STR,
                description="Comma-separated: `pending`, `succeeded`, `failed`; another value is a 400.",
            )
        ],
        examples=[OpenApiExample("A failed delivery", value=examples.DELIVERY, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One delivery, with the body sent and the answer's status, headers and first 2 KB (admins)",
        examples=[OpenApiExample("A failed delivery", value=examples.DELIVERY_DETAIL, response_only=True)],
    ),
)
@extend_schema(tags=["webhooks"])
class DeliveryViewSet(ProjectWebhooksViewSet):
    """Each event sent to a webhook, with the outcome of its latest attempt. For the project's admins."""

    queryset = Delivery.objects.none()
    serializer_class = DeliverySerializer
    filterset_class = DeliveryFilter
    lookup_url_kwarg = "delivery_id"

    def list(self, request: Request, project: str, webhook_id: str) -> Response:
        deliveries = selectors.delivery_list(webhook=self.webhook_for(project, webhook_id))
        return self.paginated(self.filter_queryset(deliveries.defer(*DETAIL_ONLY_COLUMNS)), DeliverySerializer)

    def retrieve(self, request: Request, project: str, webhook_id: str, delivery_id: str) -> Response:
        webhook = self.webhook_for(project, webhook_id)
        return Response(DeliveryDetailSerializer(selectors.delivery_get(webhook=webhook, delivery_id=delivery_id)).data)

    @extend_schema(
        request=None,
        responses={202: DeliveryDetailSerializer},
        summary="Attempt a delivery again now, with the same webhook-id (admins)",
        examples=[OpenApiExample("Queued again", value=examples.REDELIVERY, response_only=True, status_codes=["202"])],
    )
    def redeliver(self, request: Request, project: str, webhook_id: str, delivery_id: str) -> Response:
        webhook = self.webhook_for(project, webhook_id)
        delivery = services.delivery_redeliver(
            delivery=selectors.delivery_get(webhook=webhook, delivery_id=delivery_id)
        )
        return Response(DeliveryDetailSerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
