"""Idempotency-Key on authenticated POSTs (SPEC §10), through the API on PostgreSQL."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from django.test.client import encode_multipart
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, path
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from accounts.actor import ActorMixin
from hopla import urls as root_urls
from hopla.idempotency.api import IdempotentPostMixin
from hopla.idempotency.jobs import purge_expired_idempotency_keys
from hopla.idempotency.models import IdempotencyKey, KeyStatus
from hopla.idempotency.services import guard_key
from tickets.models import Event, Image, Ticket
from tickets.tests.conftest import client_for
from tickets.tests.images import png_bytes

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"


def create(client: APIClient, key: str | None, title: str = "Retry me", **extra: str) -> Response:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(TICKETS, {"project": "OPS", "title": title}, format="json", **headers, **extra)


def test_a_repeat_answers_the_kept_response_and_runs_nothing(team):
    client = team.client("member")
    first = create(client, "create-1")
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first

    again = create(client, "create-1")

    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    assert again["Content-Type"] == first["Content-Type"]
    assert again["ETag"] == first["ETag"]
    assert Ticket.objects.count() == 1
    assert Event.objects.filter(type="ticket.created").count() == 1


def test_a_quoted_key_is_the_same_key(team):
    """The IETF draft sends the key as a structured-field string: `Idempotency-Key: "abc"`."""
    client = team.client("member")
    assert create(client, '"quoted-1"').status_code == 201
    assert create(client, "quoted-1")["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize(
    ("change", "kwargs"),
    [("body", {"title": "Another title"}), ("path", {"PATH_INFO": "/api/v1/projects/"})],
)
def test_the_same_key_with_another_request_is_422(team, change, kwargs):
    client = team.client("member")
    assert create(client, "reused").status_code == 201
    if change == "path":
        response = client.post(
            "/api/v1/projects/", {"key": "NEW", "name": "n"}, format="json", HTTP_IDEMPOTENCY_KEY="reused"
        )
    else:
        response = create(client, "reused", **kwargs)

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Ticket.objects.count() == 1


def test_two_users_keys_never_collide(team):
    mine = create(team.client("member"), "shared-key", title="Mine")
    theirs = create(team.client("admin"), "shared-key", title="Theirs")

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in theirs
    assert set(Ticket.objects.values_list("title", flat=True)) == {"Mine", "Theirs"}


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "has space", "tab\tkey", "naïve", '""'])
def test_a_malformed_key_is_400_and_runs_nothing(team, key):
    response = create(team.client("member"), key)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_idempotency_key"
    assert not Ticket.objects.exists()
    assert not IdempotencyKey.objects.exists()


def test_a_refusal_is_kept_too(team):
    """A 4xx is the request's answer: the repeat answers it again rather than running."""
    client = team.client("viewer")
    first = create(client, "viewer-key")
    assert first.status_code == 403

    again = create(client, "viewer-key")
    assert (again.status_code, again["Idempotent-Replayed"]) == (403, "true")
    assert again.content == first.content


def test_without_a_key_nothing_is_kept_and_other_methods_ignore_it(team):
    client = team.client("member")
    assert create(client, None).status_code == 201
    ticket = Ticket.objects.get()
    assert client.get(f"{TICKETS}{ticket.key}/", HTTP_IDEMPOTENCY_KEY="get-key").status_code == 200
    patched = client.patch(f"{TICKETS}{ticket.key}/", {"title": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="bad key")
    assert patched.status_code == 200
    assert not IdempotencyKey.objects.exists()


def test_anonymous_posts_are_not_keyed(db, api_client):
    response = api_client.post("/api/v1/auth/login/", {"email": "a@b.c", "password": "x"}, HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 401
    assert not IdempotencyKey.objects.exists()


def test_an_upload_repeated_with_another_boundary_is_replayed(team, django_capture_on_commit_callbacks):
    """The multipart boundary changes with every send: the fingerprint reads the fields and file bytes."""
    ticket = Ticket.objects.create(project=team.project, key="OPS-1", number=1, title="t", reporter=team.member)
    client = team.client("member")
    url = f"{TICKETS}{ticket.key}/images/"

    def send(content: bytes, boundary: str) -> Response:
        upload = SimpleUploadedFile("pixel.png", content, content_type="image/png")
        body = encode_multipart(boundary, {"image": upload})
        return client.generic(
            "POST", url, body, content_type=f"multipart/form-data; boundary={boundary}", HTTP_IDEMPOTENCY_KEY="upload"
        )

    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        first = send(png_bytes(), "first-boundary")
        again = send(png_bytes(), "second-boundary")
        other = send(png_bytes((10, 10)), "third-boundary")

    assert first.status_code == 202
    assert (again.status_code, again["Idempotent-Replayed"]) == (202, "true")
    assert again.content == first.content
    assert other.status_code == 422
    assert Image.objects.count() == 1
    assert len(after_commit) == 2  # the one upload's job and its event's publication
    assert Event.objects.filter(type="image.created").count() == 1


# --- Server errors are not kept -------------------------------------------------------------------


class _FailsOnce(ActorMixin, APIView):
    failures_left = 1

    def post(self, request):  # type: ignore[no-untyped-def]
        if _FailsOnce.failures_left:
            _FailsOnce.failures_left -= 1
            raise RuntimeError("the database went away")
        return Response({"ran": True}, status=201)


class _Answers503(ActorMixin, APIView):
    def post(self, request):  # type: ignore[no-untyped-def]
        return Response({"detail": "later", "code": "unavailable"}, status=503)


urlpatterns = [
    path("api/v1/fails-once/", _FailsOnce.as_view()),
    path("api/v1/unavailable/", _Answers503.as_view()),
    *root_urls.urlpatterns,
]
handler500 = root_urls.handler500


@override_settings(ROOT_URLCONF=__name__)
def test_a_server_error_is_not_kept_and_a_retry_runs_again(user):
    client = client_for(user)
    client.raise_request_exception = False

    failed = client.post("/api/v1/fails-once/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k500")
    assert failed.status_code == 500
    assert not IdempotencyKey.objects.exists()

    retried = client.post("/api/v1/fails-once/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k500")
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried

    unavailable = client.post("/api/v1/unavailable/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k503")
    assert unavailable.status_code == 503
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["k500"]


# --- Expiry, purge, a dead first request -------------------------------------------------------------


def test_the_worker_purges_expired_keys_and_an_expired_key_runs_again(team, settings):
    client = team.client("member")
    create(client, "old")
    create(client, "fresh")
    IdempotencyKey.objects.filter(key="old").update(expires_at=timezone.now() - timedelta(seconds=1))
    cache.delete(guard_key(team.member.pk, "old"))  # the key's guard in the cache expired with it
    assert "hopla.idempotency.jobs.purge_expired_idempotency_keys" in settings.WORKER_PERIODIC_TASKS

    purge_expired_idempotency_keys()

    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]
    again = create(client, "old")
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert Ticket.objects.count() == 3


def test_an_expired_key_not_yet_purged_is_claimed_again(team):
    client = team.client("member")
    create(client, "expired")
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert "Idempotent-Replayed" not in create(client, "expired", title="Another")
    assert IdempotencyKey.objects.get().status == KeyStatus.COMPLETED


def test_a_key_left_in_progress_by_a_dead_process_is_taken_over(team, settings):
    client = team.client("member")
    create(client, "orphan")
    IdempotencyKey.objects.update(status=KeyStatus.IN_PROGRESS, response_status=None, response_body=None)

    assert create(client, "orphan").status_code == 409  # still within IDEMPOTENCY_LOCK_SECONDS
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_LOCK_SECONDS + 1))
    taken_over = create(client, "orphan")
    assert taken_over.status_code == 201
    assert "Idempotent-Replayed" not in taken_over


# --- Cost --------------------------------------------------------------------------------------------


def _statements(send) -> list[str]:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as queries:
        response = send()
    assert response.status_code in (201, 422), response.content
    return [query["sql"] for query in queries.captured_queries]


@pytest.mark.django_db(transaction=True)  # as served: no test transaction around it (no savepoints)
def test_a_keyed_post_costs_one_statement_its_record_and_no_commit_of_its_own(team):
    """One statement more than the same POST without a key: the claim is a guard in the cache, the
    answer is recorded (one INSERT ... ON CONFLICT) in the request's own transaction, so the keyed POST
    commits once, as the plain one does (its one statement commits by itself); Django logs the
    transaction's BEGIN and COMMIT. A replay is the user lookup and the read of what the key holds."""
    client = team.client("member")
    plain = _statements(lambda: create(client, None, title="plain"))
    keyed = _statements(lambda: create(client, "cost", title="keyed"))
    replay = _statements(lambda: create(client, "cost", title="keyed"))

    assert (keyed[0], keyed[-1]) == ("BEGIN", "COMMIT")
    assert "BEGIN" not in plain
    keyed = keyed[1:-1]
    extra = [sql for sql in keyed if "idempotency_idempotencykey" in sql]
    assert len(keyed) == len(plain) + 1
    assert [sql.split()[0] for sql in extra] == ["INSERT"]
    assert [sql.split()[0] for sql in replay] == ["BEGIN", "SELECT", "SELECT", "COMMIT"]  # the user, the key
    assert "idempotency_idempotencykey" in replay[2]


# --- Every authenticated POST ------------------------------------------------------------------------


def _post_views(resolver: URLResolver, prefix: str = "") -> list[tuple[str, type]]:
    found = []
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found.extend(_post_views(pattern, route))
        elif isinstance(pattern, URLPattern):
            view_class = getattr(pattern.callback, "cls", None)
            actions = getattr(pattern.callback, "actions", None) or {}
            posts = "post" in actions or (view_class is not None and not actions and hasattr(view_class, "post"))
            if route.startswith("api/v1/") and view_class is not None and posts:
                found.append((route, view_class))
    return found


def test_every_authenticated_post_under_the_api_is_keyed():
    views = _post_views(get_resolver())
    assert len(views) > 10
    public = {route for route, view in views if not issubclass(view, IdempotentPostMixin)}
    for route in public:
        view = dict(views)[route]
        assert {permission.__name__ for permission in view.permission_classes} <= {"AllowAny"}, route


def test_the_schema_documents_the_key_on_every_authenticated_post(api_client):
    paths = api_client.get("/api/schema/", {"format": "json"}).json()["paths"]

    create_ticket = paths["/api/v1/tickets/"]["post"]
    assert "Idempotency-Key" in [parameter["name"] for parameter in create_ticket["parameters"]]
    assert "Idempotent-Replayed" in create_ticket["responses"]["201"]["headers"]
    assert create_ticket["responses"]["409"]["content"]["application/json"]["example"]["code"] == (
        "idempotency_in_progress"
    )
    assert "Retry-After" in create_ticket["responses"]["409"]["headers"]
    assert "idempotency_key_reused" in create_ticket["responses"]["422"]["description"]
    assert "invalid_idempotency_key" in create_ticket["responses"]["400"]["description"]
    redeliver = next(path for path in paths if path.endswith("/redeliver/"))
    assert "delivery_pending" in paths[redeliver]["post"]["responses"]["409"]["description"]
    assert "idempotency_in_progress" in paths[redeliver]["post"]["responses"]["409"]["description"]
    login = paths["/api/v1/auth/login/"]["post"]
    assert "Idempotency-Key" not in [parameter["name"] for parameter in login.get("parameters", [])]
