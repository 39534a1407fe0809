"""The bench server's ASGI application: hopla's, with bench settings and the enqueue timer installed."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django

django.setup()

from bench import instrument  # noqa: E402

instrument.install()

from hopla.asgi import application  # noqa: E402

__all__ = ["application"]
