"""The ASGI application: Django for HTTP, Channels for WebSockets, in one process."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hopla.settings.local")
# Django must be set up before anything imports models (the WebSocket routes do); what
# django.core.asgi.get_asgi_application does, with hopla's handler.
django.setup(set_prefix=False)

from hopla.asgi_handler import ThreadPerRequestASGIHandler  # noqa: E402

django_http_application = ThreadPerRequestASGIHandler()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from realtime.origins import origin_validator  # noqa: E402
from realtime.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_http_application,
        # Channels' AllowedHostsOriginValidator, but letting through clients that send no Origin
        # (scripts, not browsers): the reasons are in realtime/origins.py.
        "websocket": origin_validator(URLRouter(websocket_urlpatterns)),
    }
)
