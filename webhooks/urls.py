from django.urls import path

from webhooks import apis

webhooks = apis.WebhookViewSet.as_view({"get": "list", "post": "create"})
webhook = apis.WebhookViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})
ping = apis.WebhookViewSet.as_view({"post": "ping"})
rotate_secret = apis.WebhookViewSet.as_view({"post": "rotate_secret"})
deliveries = apis.DeliveryViewSet.as_view({"get": "list"})
delivery = apis.DeliveryViewSet.as_view({"get": "retrieve"})
redeliver = apis.DeliveryViewSet.as_view({"post": "redeliver"})

WEBHOOK = "projects/<str:project>/webhooks/<uuid:webhook_id>/"
DELIVERY = f"{WEBHOOK}deliveries/<uuid:delivery_id>/"

urlpatterns = [
    path("projects/<str:project>/webhooks/", webhooks, name="project-webhooks"),
    path(WEBHOOK, webhook, name="project-webhook"),
    path(f"{WEBHOOK}ping/", ping, name="project-webhook-ping"),
    path(f"{WEBHOOK}rotate-secret/", rotate_secret, name="project-webhook-rotate-secret"),
    path(f"{WEBHOOK}deliveries/", deliveries, name="project-webhook-deliveries"),
    path(DELIVERY, delivery, name="project-webhook-delivery"),
    path(f"{DELIVERY}redeliver/", redeliver, name="project-webhook-delivery-redeliver"),
]
