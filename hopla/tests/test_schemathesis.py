"""Schemathesis against hopla's own OpenAPI schema, in process: every operation, as an admin and anonymously.

Each generated request must answer no 5xx, only documented statuses, bodies and content types as the
schema says. Path parameters are the generated values or, more often, real objects of the admin's
project, so that requests reach the views' code and not only their 404. Every request runs in a
savepoint rolled back afterwards: a generated DELETE does not take the fixtures away from the next one.
"""

import uuid
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck
from hypothesis import strategies as st
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.tests.factories import UserFactory
from tickets.models import Role
from tickets.tests.factories import CommentFactory, MembershipFactory, ProjectFactory, TicketFactory
from tickets.tests.images import uploaded_png
from webhooks.models import Delivery, DeliveryStatus, Webhook
from webhooks.secrets import secret_generate

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Sized for CI: 44 operations, two passes, about 55 s on 2 cores.
SETTINGS = hypothesis.settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
)
# Throttles count in Redis across the examples of one test; the generous rates keep them out of the way.
NO_THROTTLING = "1000000/min"


@pytest.fixture
def _in_process_django() -> Iterator[None]:
    """Like Django's test client: requests share the test's connection and transaction, never close it."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(db, settings) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """An admin of OPS with a ticket, a comment, an image and a webhook with a failed delivery, a member,
    and everyone else's project."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # where generated webhook URLs may point
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": dict.fromkeys(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], NO_THROTTLING),
    }
    admin = UserFactory(full_name="Ada Admin")
    project = ProjectFactory(key="OPS", created_by=admin)
    MembershipFactory(project=project, user=admin, role=Role.ADMIN)
    member = MembershipFactory(project=project, role=Role.MEMBER).user
    ticket = TicketFactory(project=project, reporter=admin, labels=["bug"])
    comment = CommentFactory(ticket=ticket, author=admin)
    client = APIClient()
    client.force_authenticate(admin)
    upload = client.post(f"/api/v1/tickets/{ticket.key}/images/", {"image": uploaded_png()}, format="multipart")
    assert upload.status_code == 202, upload.content
    other_project = ProjectFactory(key="SEC")
    other_ticket = TicketFactory(project=other_project)
    webhook = Webhook.objects.create(
        project=project, url="https://127.0.0.1/hook", events=["*"], secret=secret_generate()
    )
    delivery = Delivery.objects.create(
        webhook=webhook, event_id=uuid.uuid4(), event_type="ticket.created", status=DeliveryStatus.FAILED
    )
    other_webhook = Webhook.objects.create(
        project=other_project, url="https://127.0.0.1/hook", events=["*"], secret=secret_generate()
    )
    return {
        "admin": admin,
        "headers": {"Authorization": f"Bearer {AccessToken.for_user(admin)}"},
        "path": {
            "project": [str(project.pk), project.key, "ops", other_project.key],
            "ticket": [str(ticket.pk), ticket.key, ticket.key.lower(), other_ticket.key],
            "comment_id": [str(comment.pk)],
            "image_id": [upload.json()["id"]],
            "user_id": [str(admin.pk), str(member.pk)],
            "webhook_id": [str(webhook.pk), str(other_webhook.pk)],
            "delivery_id": [str(delivery.pk)],
        },
    }


def _operation_labels() -> list[str]:
    """Collected from the same generator that serves /api/schema/, so that each operation is a test id."""
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    return [f"{method.upper()} {path}" for path, operations in paths.items() for method in operations]


OPERATIONS = _operation_labels()


@pytest.fixture(scope="module")
def raw_schema(django_db_blocker) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The schema exactly as the app serves it at /api/schema/."""
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def api_schema(raw_schema, world, _in_process_django):  # type: ignore[no-untyped-def]
    schema = schemathesis.openapi.from_dict(raw_schema)
    schema.app = WSGIHandler()
    real_values = world["path"]

    @schema.hook
    def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> st.SearchStrategy:
        """Three times in four, each path parameter names a real object (or one of another project)."""
        if not path_parameters:
            return st.just(path_parameters)
        choices = {
            name: st.sampled_from([value, *real_values[name] * 3]) if name in real_values else st.just(value)
            for name, value in path_parameters.items()
        }
        return st.fixed_dictionaries(choices)

    return schema


def _fuzz(schema: Any, label: str, max_examples: int, headers: dict[str, str] | None = None) -> None:
    """Positive and negative cases of one operation; each request in a savepoint rolled back after it."""
    operation = schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is not in the served schema"
    cases = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @hypothesis.given(case=cases)
    @hypothesis.settings(SETTINGS, max_examples=max_examples)
    def run(case: schemathesis.Case) -> None:
        # Negative cases may carry a generated Authorization header: the pass decides who is calling.
        kept = {name: value for name, value in (case.headers or {}).items() if name.lower() != "authorization"}
        case.headers = {**kept, **(headers or {})}
        with transaction.atomic():
            case.call_and_validate(checks=CHECKS)
            transaction.set_rollback(True)

    run()


@pytest.mark.parametrize("label", OPERATIONS)
def test_operation_as_a_project_admin(api_schema, world, label):
    _fuzz(api_schema, label, max_examples=50, headers=world["headers"])


@pytest.mark.parametrize("label", OPERATIONS)
def test_operation_anonymously(api_schema, label):
    _fuzz(api_schema, label, max_examples=10)
