"""WebSocket routes, mounted by hopla.asgi behind the origin validator."""

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
