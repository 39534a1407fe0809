"""Settings for the channel-layer benchmark: the test settings, with the layer under test taken from the environment."""

import os

from hopla.settings.test import *  # noqa: F403
from hopla.settings.test import CHANNEL_LAYERS

CHANNEL_LAYERS["default"]["BACKEND"] = os.environ.get("BENCH_CHANNEL_LAYER", CHANNEL_LAYERS["default"]["BACKEND"])
