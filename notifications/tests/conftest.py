"""Fixtures of the notification tests: the project with one user per role (as in tickets' tests), and
changes made through the API as people make them, and a real SMTP server process."""

from notifications.tests.smtp_server import smtp, smtp_server  # noqa: F401  (a real SMTP server process)
from realtime.tests.conftest import world  # noqa: F401  (OPS with an admin and a member, committed: live tests)
from tickets.tests.conftest import team  # noqa: F401  (the project with one user per role)
