"""The ASGI application: Django for HTTP, Channels for WebSockets, in one process."""

import gc
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

# Garbage collection, measured on the bench server under W1 load with gc.callbacks (20 s each): with
# Python's defaults it took 0.53 ms per request, and each full collection walked the loaded app's
# 120 000 objects for up to 68 ms, which became the list's p99. Those objects live as long as the
# process: frozen, no collection walks them again. A larger first generation lets most of a request's
# short-lived objects go before a collection looks at them. Then: 0.21 ms per request, no full
# collection in 20 s.
gc.freeze()
gc.set_threshold(10_000, 20, 10)
