"""Fixtures of the notification tests: the project with one user per role (as in tickets' tests), and
changes made through the API as people make them, and a real SMTP server process."""

from collections.abc import Iterator
from typing import Any

import pytest

from notifications.tests.smtp_server import SmtpServer, free_port
from realtime.tests.conftest import world  # noqa: F401  (OPS with an admin and a member, committed: live tests)
from tickets.tests.conftest import team  # noqa: F401  (the project with one user per role)


@pytest.fixture(scope="module")
def smtp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    """One SMTP server process for a module's tests, on a free port."""
    server = SmtpServer(tmp_path_factory.mktemp("smtp"), free_port())
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_server: SmtpServer, settings: Any) -> SmtpServer:
    """Django's SMTP backend pointed at the server, its mailbox emptied."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    smtp_server.clear()
    return smtp_server
