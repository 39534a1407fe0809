"""Fixtures of hopla's own tests: the tickets app's project with one user per role."""

from tickets.tests.conftest import team  # noqa: F401
