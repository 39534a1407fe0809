"""Settings of the servers under benchmark: production-like (DEBUG and Silk off, pooled database
connections, Redis, a real RQ worker), plus the floor views mounted beside the API.

Not `hopla.settings.production`: that one redirects to HTTPS, which a local load generator cannot follow.
"""

from hopla.settings.base import *  # noqa: F403
from hopla.settings.base import CHANNEL_LAYERS, env

DEBUG = False
SILK_ENABLED = False
ROOT_URLCONF = "bench.urls"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

# Pub/sub channels ignore Redis database numbers: a prefix of its own keeps the bench's events apart
# from any other hopla on the same Redis (the tests, a developer's server).
_layer_config = CHANNEL_LAYERS["default"].get("CONFIG")
if isinstance(_layer_config, dict):
    _layer_config["prefix"] = env.str("BENCH_CHANNEL_PREFIX", default="hopla-bench")
