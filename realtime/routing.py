"""WebSocket routes, mounted by hopla.asgi behind the origin validator."""

from django.urls import URLPattern, path

from realtime.consumers import EventStreamConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/v1/events/", EventStreamConsumer.as_asgi(), name="event-stream"),
]
