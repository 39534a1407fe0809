"""Local development: the embedded default (SQLite, in-process jobs, local media) with DEBUG on."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
