"""The bench server as a WSGI application (issue 21: HTTP through WSGI against today's all-ASGI setup).

hopla has no WSGI entry point of its own (WebSockets need ASGI); this one serves the same bench
settings and URLs over WSGI for `python -m bench --servers gunicorn-gthread-2`, with the enqueue
timer installed and the garbage collector tuned as hopla.asgi tunes it.
"""

import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()

from bench import instrument  # noqa: E402

instrument.install()

gc.freeze()
gc.set_threshold(10_000, 20, 10)
