"""A project with one user per role, each with a logged-in API client."""

from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from accounts.tests.factories import UserFactory

# A real SMTP server process (aiosmtpd) and Django's SMTP backend pointed at it: invitation emails.
from notifications.tests.smtp_server import smtp, smtp_server  # noqa: F401
from tickets.models import Project, Role
from tickets.tests.factories import MembershipFactory, ProjectFactory


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


@dataclass
class Team:
    project: Project
    admin: User
    member: User
    viewer: User
    outsider: User

    def client(self, role: str) -> APIClient:
        return client_for(getattr(self, role))


@pytest.fixture
def team(db) -> Team:  # type: ignore[no-untyped-def]
    admin = UserFactory(full_name="Ada Admin")
    project = ProjectFactory(key="OPS", name="Operations", created_by=admin)
    MembershipFactory(project=project, user=admin, role=Role.ADMIN)
    member = MembershipFactory(project=project, role=Role.MEMBER).user
    viewer = MembershipFactory(project=project, role=Role.VIEWER).user
    return Team(project=project, admin=admin, member=member, viewer=viewer, outsider=UserFactory())
