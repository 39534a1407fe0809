"""Test settings: real PostgreSQL and Redis, fast hashing, quiet logs."""

import os

# The tests run against the real services; these defaults point at the ones on a developer machine.
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hopla")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")

from .base import *  # noqa: F403
from .base import REST_FRAMEWORK

DEBUG = False
# Test processes connect without the pool (servers started by the fault tests and the benchmarks use
# it): the concurrency tests hold more requests on a lock than a pool lends, and the fault tests
# count the database sessions that stopped processes leave behind.
DATABASES["default"].get("OPTIONS", {}).pop("pool", None)  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
REST_FRAMEWORK["TEST_REQUEST_DEFAULT_FORMAT"] = "json"
LOGGING["root"] = {"handlers": ["console"], "level": "WARNING"}  # noqa: F405
