"""Fixtures of the webhook tests: the project with one user per role, a project with an admin, a real
receiver on 127.0.0.1, and events written as the services write them."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction

from accounts.tests.factories import UserFactory
from tickets.models import Event, EventType
from tickets.services.event_writing import event_record
from tickets.tests.conftest import team  # noqa: F401  (the project with one user per role, as in tickets' tests)
from tickets.tests.factories import ProjectFactory
from webhooks.tests.receiver import Receiver


@pytest.fixture(autouse=True)
def _loopback_receivers(settings: Any) -> None:
    """Tests' receivers live on 127.0.0.1, which hopla refuses unless the network is allowed (SPEC §9)."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.stop()


@pytest.fixture
def webhook_settings(settings: Any) -> Any:
    """Plain http to the loopback receiver, short retries, short timeout."""
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.WEBHOOK_RETRY_SCHEDULE = [0, 0, 1]
    settings.WEBHOOK_TIMEOUT_SECONDS = 2
    return settings


@pytest.fixture
def admin(db: None) -> Any:
    return UserFactory()


@pytest.fixture
def project(admin: Any) -> Any:
    return ProjectFactory(created_by=admin)


def events_write(project: Any, actor: Any, types: list[str]) -> list[Event]:
    """Events committed as a service commits them (event_record in a transaction), one per type."""
    written = []
    for event_type in types:
        with transaction.atomic():
            written.append(
                event_record(type=EventType(event_type), project_id=project.pk, actor=actor, data={"n": len(written)})
            )
    return written
