"""Hostile input on every write endpoint: wrong JSON types, NUL bytes, lone surrogates, huge and deep bodies,
bad encodings and content types, other people's ids. Whatever comes in, the answer is a 4xx in the error
contract of SPEC §2, never a 500 or an HTML page.
"""

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.tests.factories import PASSWORD, UserFactory
from tickets.models import Role
from tickets.tests.factories import CommentFactory, MembershipFactory, ProjectFactory, TicketFactory
from tickets.tests.images import png_bytes

pytestmark = pytest.mark.django_db


@dataclass
class World:
    """Ada administers OPS (ticket OPS-1 with her comment); Eve administers SEC, which Ada cannot see."""

    ada: Any
    eve: Any
    member: Any
    ops: Any
    sec: Any
    ticket: Any
    comment: Any
    sec_ticket: Any
    sec_comment: Any
    clients: dict[str, APIClient] = field(default_factory=dict)

    def client(self, who: str) -> APIClient:
        if who not in self.clients:
            client = APIClient(raise_request_exception=False)  # a crash must show as the 500 a client gets
            if who != "anonymous":
                client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(getattr(self, who))}")
            self.clients[who] = client
        return self.clients[who]


@pytest.fixture
def world(db) -> World:  # type: ignore[no-untyped-def]
    ada, eve = UserFactory(email="ada@example.com"), UserFactory(email="eve@example.com")
    ops, sec = ProjectFactory(key="OPS", created_by=ada), ProjectFactory(key="SEC", created_by=eve)
    MembershipFactory(project=ops, user=ada, role=Role.ADMIN)
    member = MembershipFactory(project=ops, role=Role.MEMBER).user
    MembershipFactory(project=sec, user=eve, role=Role.ADMIN)
    ticket, sec_ticket = TicketFactory(project=ops, reporter=ada), TicketFactory(project=sec, reporter=eve)
    return World(
        ada=ada,
        eve=eve,
        member=member,
        ops=ops,
        sec=sec,
        ticket=ticket,
        comment=CommentFactory(ticket=ticket, author=ada),
        sec_ticket=sec_ticket,
        sec_comment=CommentFactory(ticket=sec_ticket, author=eve),
    )


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # formatted with the World
    who: str
    body: dict[str, Any]  # a valid body, each of whose fields the tests spoil in turn

    def url(self, world: World) -> str:
        return self.path.format(w=world)


ENDPOINTS = {
    "register": Endpoint(
        "POST",
        "/api/v1/auth/register/",
        "anonymous",
        {"email": "new@example.com", "password": PASSWORD, "full_name": "N"},
    ),
    "login": Endpoint("POST", "/api/v1/auth/login/", "anonymous", {"email": "ada@example.com", "password": PASSWORD}),
    "refresh": Endpoint("POST", "/api/v1/auth/refresh/", "anonymous", {"refresh": "not-a-token"}),
    "logout": Endpoint("POST", "/api/v1/auth/logout/", "ada", {"refresh": "not-a-token"}),
    "me": Endpoint("PATCH", "/api/v1/auth/me/", "ada", {"full_name": "Ada L."}),
    "password-change": Endpoint(
        "POST", "/api/v1/auth/password/change/", "ada", {"old_password": PASSWORD, "new_password": "An0ther-long-one"}
    ),
    "password-reset": Endpoint("POST", "/api/v1/auth/password/reset/", "anonymous", {"email": "ada@example.com"}),
    "password-reset-confirm": Endpoint(
        "POST",
        "/api/v1/auth/password/reset/confirm/",
        "anonymous",
        {"uid": "abc", "token": "def", "new_password": "An0ther-long-one"},
    ),
    "project-create": Endpoint("POST", "/api/v1/projects/", "ada", {"key": "NEW", "name": "New", "description": ""}),
    "project-update": Endpoint("PATCH", "/api/v1/projects/{w.ops.pk}/", "ada", {"name": "Ops", "description": "d"}),
    "member-add": Endpoint(
        "POST", "/api/v1/projects/OPS/members/", "ada", {"user": "eve@example.com", "role": "viewer"}
    ),
    "member-update": Endpoint("PATCH", "/api/v1/projects/OPS/members/{w.member.pk}/", "ada", {"role": "viewer"}),
    "ticket-create": Endpoint(
        "POST",
        "/api/v1/tickets/",
        "ada",
        {
            "project": "OPS",
            "title": "T",
            "description": "",
            "priority": "high",
            "labels": ["bug"],
            "assignee": None,
            "due_date": "2030-01-01",
        },
    ),
    "ticket-update": Endpoint(
        "PATCH",
        "/api/v1/tickets/OPS-1/",
        "ada",
        {
            "title": "T",
            "description": "d",
            "priority": "low",
            "labels": [],
            "assignee": None,
            "due_date": None,
            "status": "in_progress",
        },
    ),
    "comment-create": Endpoint("POST", "/api/v1/tickets/OPS-1/comments/", "ada", {"body": "hello"}),
    "comment-update": Endpoint("PATCH", "/api/v1/tickets/OPS-1/comments/{w.comment.pk}/", "ada", {"body": "hi"}),
}

WRONG_TYPES = {
    "int": 7,
    "huge-int": 10**30,
    "float": 1.5,
    "true": True,
    "null": None,
    "list": ["x", 1],
    "object": {"a": 1},
    "empty-string": "",
    "long-string": "x" * 100_000,
}
# PostgreSQL refuses NUL in text; a lone surrogate (valid JSON, `"\ud800"`) cannot be encoded for it at all.
UNSTORABLE = {"nul": "a\u0000b", "only-nul": "\u0000", "lone-surrogate": "a\ud800b", "reversed-pair": "\udc00\ud800"}

FIELD_CASES = [
    pytest.param(name, field_name, value, id=f"{name}-{field_name}-{value_id}")
    for name, endpoint in ENDPOINTS.items()
    for field_name in endpoint.body
    for value_id, value in {**WRONG_TYPES, **UNSTORABLE}.items()
]


def send(world: World, endpoint: Endpoint, body: bytes, content_type: str = "application/json", **extra: Any) -> Any:
    client = world.client(endpoint.who)
    return client.generic(endpoint.method, endpoint.url(world), body, content_type=content_type, **extra)


def json_bytes(data: Any) -> bytes:
    # ensure_ascii escapes lone surrogates as `\ud800`, exactly as a client library would send them.
    return json.dumps(data, ensure_ascii=True).encode()


def assert_contract_error(response: Any, *statuses: int) -> dict[str, Any]:
    assert response.status_code < 500, (response.status_code, response.content[:300])
    assert response.status_code in statuses, (response.status_code, response.content[:300])
    assert response["Content-Type"] == "application/json", response["Content-Type"]
    body = response.json()
    assert isinstance(body["detail"], str)
    assert isinstance(body["code"], str)
    return body


@pytest.mark.parametrize(("name", "field_name", "value"), FIELD_CASES)
def test_a_wrong_value_in_any_field_is_never_a_server_error(world, name, field_name, value):
    endpoint = ENDPOINTS[name]
    response = send(world, endpoint, json_bytes({**endpoint.body, field_name: value}))
    assert response.status_code < 500, (response.status_code, response.content[:300])
    if response.status_code >= 400:
        assert_contract_error(response, response.status_code)
    if isinstance(value, str) and value in UNSTORABLE.values():
        body = assert_contract_error(response, 400)
        assert body["code"] in ("invalid", "parse_error")


@pytest.mark.parametrize("name", ENDPOINTS)
@pytest.mark.parametrize(
    "body",
    [b"[]", b'"text"', b"42", b"null", b"true", b"{", b"\xff\xfe{}", b'{"a": NaN}', b'{"a": Infinity}', b""],
    ids=["list", "string", "number", "null", "true", "truncated", "not-utf8", "nan", "infinity", "empty"],
)
def test_a_body_that_is_not_a_json_object_is_a_400(world, name, body):
    endpoint = ENDPOINTS[name]
    response = send(world, endpoint, body)
    if body == b"" and endpoint.method == "PATCH" and response.status_code == 200:
        return  # no body, nothing to change (unless a field is required, then a 400 below)
    assert_contract_error(response, 400, 401)


@pytest.mark.parametrize("name", ENDPOINTS)
def test_deeply_nested_json_is_a_400(world, name):
    endpoint = ENDPOINTS[name]
    field_name = next(iter(endpoint.body))
    deep = b'{"%s": ' % field_name.encode() + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert_contract_error(send(world, endpoint, deep), 400)
    # Nesting Python can parse still reaches the serializer, which must refuse it as a wrong type.
    shallow_enough = b'{"%s": ' % field_name.encode() + b"[" * 500 + b"]" * 500 + b"}"
    response = send(world, endpoint, shallow_enough)
    assert response.status_code < 500, (response.status_code, response.content[:300])


@pytest.mark.parametrize("name", ENDPOINTS)
def test_a_huge_json_body_is_a_413(world, name, settings):
    settings.API_MAX_JSON_BYTES = 50_000
    endpoint = ENDPOINTS[name]
    body = json_bytes({**endpoint.body, "padding": "x" * 60_000})
    assert assert_contract_error(send(world, endpoint, body), 413)["code"] == "request_too_large"


@pytest.mark.parametrize("name", ENDPOINTS)
@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/xml", "image/png", "application/json-patch+json"],
)
def test_a_body_that_is_not_json_is_a_415(world, name, content_type):
    response = send(world, ENDPOINTS[name], b"email=a&title=b", content_type=content_type)
    assert assert_contract_error(response, 415)["code"] == "unsupported_media_type"


IMAGE_UPLOAD = "/api/v1/tickets/OPS-1/images/"


def _multipart(parts: list[tuple[str, bytes]], boundary: str = "nasty") -> tuple[bytes, str]:
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b"\r\n"
        for name, value in parts
    )
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("name", ["ticket-create", "comment-create", "register"])
def test_json_endpoints_refuse_multipart(world, name):
    """Multipart is for the image upload only (SPEC §2); elsewhere it is a 415, whatever its size."""
    body, content_type = _multipart([("title", b"x" * 20_000)])
    response = send(world, ENDPOINTS[name], body, content_type=content_type)
    assert assert_contract_error(response, 415)["code"] == "unsupported_media_type"


def test_a_huge_multipart_form_field_on_the_upload_is_a_4xx_not_a_500(world, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body, content_type = _multipart([("note", b"x" * 20_000)])
    response = world.client("ada").generic("POST", IMAGE_UPLOAD, body, content_type=content_type)
    assert_contract_error(response, 400, 413)


def test_too_many_multipart_fields_on_the_upload_are_a_4xx_not_a_500(world):
    body, content_type = _multipart([(f"f{index}", b"v") for index in range(1500)])
    response = world.client("ada").generic("POST", IMAGE_UPLOAD, body, content_type=content_type)
    assert_contract_error(response, 400, 413)


def test_too_many_files_in_an_upload_are_a_4xx_not_a_500(world):
    boundary = "nasty"
    png = png_bytes((4, 4))
    parts = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{index}.png"\r\n'
        f"Content-Type: image/png\r\n\r\n".encode()
        + png
        + b"\r\n"
        for index in range(120)
    )
    body = parts + f"--{boundary}--\r\n".encode()
    response = world.client("ada").generic(
        "POST", "/api/v1/tickets/OPS-1/images/", body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert_contract_error(response, 400, 413)


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "text/plain", "multipart/form-data", "multipart/form-data; boundary="],
)
def test_an_upload_that_is_not_proper_multipart_is_a_4xx(world, content_type):
    response = world.client("ada").generic(
        "POST", "/api/v1/tickets/OPS-1/images/", b'{"image": "x"}', content_type=content_type
    )
    assert_contract_error(response, 400, 415)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/nothing-here/"),
        ("PATCH", "/api/v1/tickets/OPS-1/comments/not-a-uuid/"),
        ("DELETE", "/api/v1/tickets/OPS-1/images/not-a-uuid/"),
        ("DELETE", "/api/v1/projects/OPS/members/not-a-uuid/"),
        ("PUT", "/api/v2/tickets/"),
    ],
)
def test_writes_to_unknown_api_paths_are_json_404_even_with_csrf_checks(world, method, path):
    """A real client gets Django's CSRF check (the test client skips it): no HTML 403 on the API."""
    client = APIClient(enforce_csrf_checks=True, raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(world.ada)}")
    response = client.generic(method, path, b"{}", content_type="application/json")
    assert assert_contract_error(response, 404)["code"] == "not_found"


@pytest.mark.parametrize(
    ("endpoint_name", "body_field", "value"),
    [
        ("ticket-create", "project", "{w.sec.pk}"),
        ("ticket-create", "project", "SEC"),
        ("ticket-create", "assignee", "{w.eve.pk}"),
        ("ticket-create", "assignee", "00000000-0000-0000-0000-000000000000"),
        ("ticket-update", "assignee", "{w.eve.pk}"),
        ("member-add", "user", "00000000-0000-0000-0000-000000000000"),
        ("member-add", "user", "nobody@"),  # an email with no account is invited (tickets/tests/test_invitations.py)
    ],
)
def test_other_peoples_ids_in_bodies_are_a_400_on_the_field(world, endpoint_name, body_field, value):
    endpoint = ENDPOINTS[endpoint_name]
    response = send(world, endpoint, json_bytes({**endpoint.body, body_field: value.format(w=world)}))
    body = assert_contract_error(response, 400)
    assert body_field in body["errors"]
    assert "SEC" not in response.content.decode()
    assert "eve@" not in response.content.decode()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/projects/{w.sec.pk}/"),
        ("PATCH", "/api/v1/projects/SEC/"),
        ("DELETE", "/api/v1/projects/SEC/"),
        ("GET", "/api/v1/projects/SEC/members/"),
        ("POST", "/api/v1/projects/SEC/members/"),
        ("PATCH", "/api/v1/projects/SEC/members/{w.eve.pk}/"),
        ("PATCH", "/api/v1/projects/OPS/members/{w.eve.pk}/"),
        ("DELETE", "/api/v1/projects/OPS/members/{w.eve.pk}/"),
        ("GET", "/api/v1/tickets/{w.sec_ticket.pk}/"),
        ("PATCH", "/api/v1/tickets/{w.sec_ticket.key}/"),
        ("DELETE", "/api/v1/tickets/{w.sec_ticket.key}/"),
        ("GET", "/api/v1/tickets/{w.sec_ticket.key}/history/"),
        ("POST", "/api/v1/tickets/{w.sec_ticket.key}/comments/"),
        ("PATCH", "/api/v1/tickets/OPS-1/comments/{w.sec_comment.pk}/"),
        ("DELETE", "/api/v1/tickets/OPS-1/comments/{w.sec_comment.pk}/"),
        ("PATCH", "/api/v1/tickets/{w.sec_ticket.key}/comments/{w.sec_comment.pk}/"),
        ("GET", "/api/v1/tickets/{w.sec_ticket.key}/images/"),
        ("DELETE", "/api/v1/tickets/OPS-1/images/{w.sec_comment.pk}/"),
        ("GET", "/api/v1/tickets/OPS-1%00/"),
        ("GET", "/api/v1/tickets/OPS-99999999999/"),
        ("GET", "/api/v1/projects/%C0%AF/"),
        ("GET", "/api/v1/tickets/%ED%A0%80/"),
    ],
)
def test_other_peoples_objects_in_paths_are_a_json_404(world, method, path):
    response = world.client("ada").generic(method, path.format(w=world), b"{}", content_type="application/json")
    assert assert_contract_error(response, 404)["code"] == "not_found"


@pytest.mark.parametrize(
    "if_match", ['"1"', '"999"', "*", 'W/"1"', "", ",,,", '"' + "9" * 5000 + '"', "\u00ff", '"1", "2"']
)
def test_any_if_match_is_a_write_or_a_412(world, if_match):
    response = world.client("ada").patch(
        "/api/v1/tickets/OPS-1/", {"title": "Renamed"}, format="json", HTTP_IF_MATCH=if_match
    )
    assert response.status_code in (200, 412), (response.status_code, response.content[:300])


@pytest.mark.parametrize("name", ["login", "password-reset"])
@pytest.mark.parametrize(
    "email",
    [
        "Ada Example <ada@example.com>",
        "a b@example.com",
        "ada@example.com\n",
        "x" * 300 + "@example.com",
        "\u00e9@x.io",
    ],
)
def test_throttled_endpoints_take_any_email_text(world, name, email):
    """Throttles key their counters on the email before any validation: the key must survive any text."""
    endpoint = ENDPOINTS[name]
    response = send(world, endpoint, json_bytes({**endpoint.body, "email": email}))
    assert response.status_code < 500, (response.status_code, response.content[:300])
