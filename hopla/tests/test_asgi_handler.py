"""HTTP through hopla's ASGI application: the middleware chain and the view in the request's thread."""

import gc
import inspect
import json

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from rest_framework_simplejwt.tokens import AccessToken

from accounts.tests.factories import UserFactory
from hopla.asgi import application, django_http_application


async def _get(path: str, token: str = "") -> tuple[int, dict[bytes, bytes], bytes]:
    headers = [(b"host", b"localhost")]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("localhost", 80),
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await communicator.receive_output(10)
    body = b""
    while True:
        message = await communicator.receive_output(10)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    # Let the request finish (its database connection is closed then) before the test database goes.
    await communicator.wait(10)
    return start["status"], {name.lower(): value for name, value in start["headers"]}, body


def test_the_loaded_app_is_kept_out_of_garbage_collections() -> None:
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == 10_000


def test_the_middleware_chain_is_loaded_in_sync_mode() -> None:
    # In async mode Django would cross threads around every middleware hook.
    assert not inspect.iscoroutinefunction(django_http_application._middleware_chain)


@pytest.mark.django_db(transaction=True)
def test_an_api_request_answers_through_the_asgi_application() -> None:
    user = UserFactory()
    status, headers, body = async_to_sync(_get)("/api/v1/auth/me/", str(AccessToken.for_user(user)))
    assert status == 200
    assert json.loads(body)["id"] == str(user.pk)
    assert headers[b"content-type"] == b"application/json"
    assert headers[b"x-request-id"]  # the request log middleware ran
    assert headers[b"x-content-type-options"] == b"nosniff"  # and Django's security middleware


@pytest.mark.django_db(transaction=True)
def test_errors_stay_json_through_the_asgi_application() -> None:
    status, _, body = async_to_sync(_get)("/api/v1/tickets/")
    assert status == 401
    assert json.loads(body)["code"] == "not_authenticated"
