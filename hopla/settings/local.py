"""Local development: the embedded default (SQLite, in-process jobs, local media) with DEBUG on."""

from .base import *  # noqa: F403
from .base import BASE_DIR, LOGGING, env

DEBUG = env.bool("DEBUG", default=True)
# Readable lines in a terminal; set LOG_FORMAT=json to get what production writes.
LOGGING["handlers"]["console"]["formatter"] = env.str("LOG_FORMAT", default="text")
# `collectstatic` works here too (to try production's assets); the server itself serves them from the
# app folders. Not in base.py: where DEBUG is off, whitenoise warns at start-up about a missing folder.
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
