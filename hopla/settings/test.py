"""Test settings: real PostgreSQL and Redis, fast hashing, quiet logs."""

import os

# The tests run against the real services; these defaults point at the ones on a developer machine.
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hopla")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("CHANNEL_LAYER_PREFIX", "hopla_test")

# Under pytest-xdist each worker ("gw0", "gw1"…) gets Redis services of its own: pytest-django already
# gives it a database of its own (test_<name>_gw0…). The Redis db counts down from the configured one
# (cache, throttles and job queues are per db); pub/sub channel layers ignore db numbers, so the channel
# prefix carries the worker's name. Written to the environment, so the servers and workers the tests
# start inherit them (and the marker, so that a server on these settings does not shift them again).
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _xdist_worker and os.environ.get("HOPLA_TEST_SERVICES_OF") != _xdist_worker:
    from urllib.parse import urlsplit, urlunsplit

    _redis = urlsplit(os.environ["REDIS_URL"])
    _worker_number = int(_xdist_worker.removeprefix("gw"))
    _redis_db = int(_redis.path.strip("/") or 0) - _worker_number
    if _redis_db < 0:
        raise RuntimeError(f"{_xdist_worker} has no Redis db below {os.environ['REDIS_URL']}: run fewer workers")
    os.environ["REDIS_URL"] = urlunsplit(_redis._replace(path=f"/{_redis_db}"))
    os.environ["CHANNEL_LAYER_PREFIX"] = f"{os.environ['CHANNEL_LAYER_PREFIX']}_{_xdist_worker}"
    os.environ["HOPLA_TEST_SERVICES_OF"] = _xdist_worker

from .base import *  # noqa: F403, E402  (the services above are chosen before base reads them)
from .base import REST_FRAMEWORK  # noqa: E402

DEBUG = False
# Test processes connect without the pool (servers started by the fault tests and the benchmarks use
# it): the concurrency tests hold more requests on a lock than a pool lends, and the fault tests
# count the database sessions that stopped processes leave behind.
DATABASES["default"].get("OPTIONS", {}).pop("pool", None)  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
REST_FRAMEWORK["TEST_REQUEST_DEFAULT_FORMAT"] = "json"
LOGGING["root"] = {"handlers": ["console"], "level": "WARNING"}  # noqa: F405
