"""Local development: the embedded default (SQLite, in-process jobs, local media) with DEBUG on."""

from .base import *  # noqa: F403
from .base import LOGGING, env

DEBUG = env.bool("DEBUG", default=True)
# Readable lines in a terminal; set LOG_FORMAT=json to get what production writes.
LOGGING["handlers"]["console"]["formatter"] = env.str("LOG_FORMAT", default="text")
