"""The error contract of SPEC §2 for errors no single app owns."""

import pytest
from django.test import override_settings
from django.urls import path
from rest_framework import exceptions
from rest_framework.exceptions import ErrorDetail
from rest_framework.test import APIClient

from hopla import urls as root_urls
from hopla.api.exceptions import ActionForbidden, InvalidField, ObjectNotFound, api_exception_handler

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register/"


def _boom(request):
    raise RuntimeError("secret internals")


urlpatterns = [path("api/v1/boom/", _boom), *root_urls.urlpatterns]
handler500 = root_urls.handler500


@pytest.mark.parametrize("path", ["/api/v1/nothing-here/", "/api/v2/auth/me/", "/api/", "/api/v1/auth/me/extra/"])
def test_unknown_api_paths_are_json_404(api_client, path):
    response = api_client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "No API endpoint at this path.", "code": "not_found"}


def test_a_missing_trailing_slash_gets_a_hint_not_a_redirect(api_client):
    response = api_client.post("/api/v1/auth/login", {}, format="json")
    assert response.status_code == 404
    assert response.json()["detail"].endswith("did you mean /api/v1/auth/login/ ?")


def test_an_unsupported_method_is_json_405(auth_client):
    response = auth_client.delete("/api/v1/auth/me/")
    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "DELETE" not allowed.', "code": "method_not_allowed"}


@override_settings(ROOT_URLCONF=__name__, DEBUG=False)
def test_a_server_error_is_json_without_a_stack_trace():
    client = APIClient(raise_request_exception=False)
    response = client.get("/api/v1/boom/")
    assert response.status_code == 500
    assert response.json() == {"detail": "A server error occurred.", "code": "server_error"}
    assert b"secret internals" not in response.content


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"email": ', "application/json"),
        (b"\xff\xfe not utf-8", "application/json"),
        (b'{"email": NaN}', "application/json"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json"),
        (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "application/json"),
    ],
    ids=["truncated", "not-utf8", "nan", "deep-list", "deep-object"],
)
def test_malformed_json_is_a_400_parse_error(api_client, body, content_type):
    response = api_client.generic("POST", REGISTER, body, content_type=content_type)
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_a_huge_json_body_is_refused_with_413(api_client, settings):
    settings.API_MAX_JSON_BYTES = 10_000
    body = b'{"full_name": "' + b"x" * 20_000 + b'"}'
    response = api_client.generic("POST", REGISTER, body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


def test_an_unsupported_media_type_is_415(api_client):
    response = api_client.generic("POST", REGISTER, b"email=a", content_type="text/plain")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_every_response_has_a_request_id_and_a_given_one_is_echoed(api_client):
    generated = api_client.get("/healthz")
    assert len(generated["X-Request-ID"]) == 32
    echoed = api_client.get("/healthz", HTTP_X_REQUEST_ID="abc-123")
    assert echoed["X-Request-ID"] == "abc-123"
    refused = api_client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert refused["X-Request-ID"] != "bad id\nwith newline"


@pytest.mark.parametrize(
    ("domain_error", "drf_error"),
    [
        (ObjectNotFound("No such ticket."), exceptions.NotFound("No such ticket.")),
        (ActionForbidden("Only admins can."), exceptions.PermissionDenied("Only admins can.")),
        (
            InvalidField("password", ("Too short.", "password_too_short"), ("Too common.", "password_too_common")),
            exceptions.ValidationError(
                {
                    "password": [
                        ErrorDetail("Too short.", code="password_too_short"),
                        ErrorDetail("Too common.", code="password_too_common"),
                    ]
                }
            ),
        ),
    ],
    ids=["not_found", "permission_denied", "invalid_field"],
)
def test_domain_errors_answer_what_drfs_own_exceptions_answered(domain_error, drf_error):
    """Services and selectors raise hopla's domain errors, not DRF's: clients see the same answer."""
    ours, drfs = api_exception_handler(domain_error, {}), api_exception_handler(drf_error, {})
    assert ours is not None
    assert drfs is not None
    assert (ours.status_code, ours.data) == (drfs.status_code, drfs.data)
