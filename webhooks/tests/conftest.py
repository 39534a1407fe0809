"""Fixtures of the webhook tests: the project with one user per role, and receivers on 127.0.0.1."""

import pytest

from tickets.tests.conftest import team  # noqa: F401  (the project with one user per role, as in tickets' tests)


@pytest.fixture(autouse=True)
def _loopback_receivers(settings):  # type: ignore[no-untyped-def]
    """Tests' receivers live on 127.0.0.1, which hopla refuses unless the network is allowed (SPEC §9)."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
