"""Fixtures for the realtime tests: a small world of users and projects, and real server processes."""

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.factories import UserFactory
from realtime.tests.support import ServerProcess, token_for
from tickets.models import Project, Role
from tickets.tests.factories import MembershipFactory, ProjectFactory


@dataclass
class World:
    """OPS has an admin and a member; the member and the outsider each also have a project of their own."""

    ops: Project
    member_side: Project
    outsider_side: Project
    admin: User
    member: User
    outsider: User


@pytest.fixture
def world(transactional_db: None) -> World:
    # Committed, not rolled back: the consumers and the server processes read on other connections.
    admin, member, outsider = UserFactory(), UserFactory(), UserFactory()
    ops = ProjectFactory(key="OPS", created_by=admin)
    MembershipFactory(project=ops, user=admin, role=Role.ADMIN)
    MembershipFactory(project=ops, user=member, role=Role.MEMBER)
    member_side = ProjectFactory(key="MINE", created_by=member)
    MembershipFactory(project=member_side, user=member, role=Role.ADMIN)
    outsider_side = ProjectFactory(key="OUT", created_by=outsider)
    MembershipFactory(project=outsider_side, user=outsider, role=Role.ADMIN)
    return World(ops, member_side, outsider_side, admin, member, outsider)


def _server(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("servers") / f"{name}.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _server_a(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from _server(tmp_path_factory, "a")


@pytest.fixture(scope="session")
def _server_b(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from _server(tmp_path_factory, "b")


def _clean_log(server: ServerProcess) -> Iterator[ServerProcess]:
    """Hands the server to one test, then checks that it logged no traceback meanwhile."""
    start = len(server.log())
    yield server
    new_lines = server.log()[start:]
    assert "Traceback" not in new_lines, new_lines


@pytest.fixture
def server(_server_a: ServerProcess) -> Iterator[ServerProcess]:
    yield from _clean_log(_server_a)


@pytest.fixture
def other_server(_server_b: ServerProcess) -> Iterator[ServerProcess]:
    yield from _clean_log(_server_b)


@pytest.fixture
def world_client(world: World) -> APIClient:
    """The OPS admin's API client, in this process."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(world.admin)}")
    return client
