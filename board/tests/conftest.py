"""The board's tests reuse the tickets app's team: a project with one user per role."""

from tickets.tests.conftest import team

__all__ = ["team"]
