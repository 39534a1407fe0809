"""Shared fixtures. The suite runs on the real PostgreSQL and Redis and stops early without them."""

import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.cache import cache
from pytest_django import DjangoDbBlocker
from rest_framework.test import APIClient

from accounts.tests.factories import PASSWORD, UserFactory

# Browser tests' fixtures (a server process, chromium, a recording page), for every app's tests.
pytest_plugins = ["hopla.tests.browser"]

HOW_TO_START = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Redis": "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no",
}


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def pytest_configure(config: pytest.Config) -> None:
    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.postgresql":
        pytest.exit(f"The tests run on PostgreSQL only; DATABASE_URL points at {database['ENGINE']}.", returncode=3)
    database_url = f"postgres://{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}"
    for name, url, port in (("PostgreSQL", database_url, 5432), ("Redis", settings.REDIS_URL, 6379)):
        if not url or not _reachable(url, port):
            pytest.exit(
                f"{name} is not reachable at {url or '(unset)'}. Start it with: {HOW_TO_START[name]}", returncode=3
            )


@pytest.fixture(scope="session", autouse=True)
def _published_marks_written_before_the_test_database_goes(
    django_db_setup: None, django_db_blocker: DjangoDbBlocker
) -> Iterator[None]:
    """The last tests' published marks, written now: the marks thread writes a batch every 0.5 s, and
    one due after the test database was dropped logged a traceback into a closed stream at exit."""
    yield
    from tickets.services.event_publishing import _published_marks

    with django_db_blocker.unblock():
        _published_marks.flush()


def _uses_the_database(request: pytest.FixtureRequest) -> bool:
    return bool(request.node.get_closest_marker("django_db")) or bool(
        {"db", "transactional_db", "django_db_reset_sequences"} & set(request.fixturenames)
    )


@pytest.fixture(autouse=True)
def _event_cursors_as_migrated(
    request: pytest.FixtureRequest, django_db_setup: None, django_db_blocker: DjangoDbBlocker
) -> None:
    """The event consumers' cursor rows exist, as their migrations made them. A transactional test's
    flush deletes them, and a test after it on the same database would find none and consume nothing
    (the first consume makes the row at the newest event). pytest-django runs every transactional test
    last, but pytest-xdist hands each worker files in turn, so on a worker they follow one another."""
    if not _uses_the_database(request):
        return
    from notifications.models import NotifyCursor
    from tickets.event_cursor import event_cursor_ensure
    from webhooks.models import DispatchCursor

    with django_db_blocker.unblock():
        for cursor_model in (NotifyCursor, DispatchCursor):
            event_cursor_ensure(cursor_model)


@pytest.fixture(autouse=True)
def _clean_redis() -> Iterator[None]:
    """Throttle counters and queued jobs live in Redis db 15; each test starts from an empty one."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def user(db):  # type: ignore[no-untyped-def]
    return UserFactory()


@pytest.fixture
def auth_client(user) -> APIClient:  # type: ignore[no-untyped-def]
    """An API client logged in as `user` through the real login endpoint."""
    client = APIClient()
    response = client.post("/api/v1/auth/login/", {"email": user.email, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.data['access']}")
    client.tokens = response.data  # type: ignore[attr-defined]
    return client
