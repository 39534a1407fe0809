"""The webhook API (SPEC §9) through HTTP: every route, for admins; bad input refused whole; secrets
shown only by create and rotate; other projects' webhooks and deliveries answer 404."""

import json
import uuid
from typing import Any

import pytest
from django.utils import timezone

from tickets.models import Role
from tickets.tests.conftest import Team, client_for
from tickets.tests.factories import MembershipFactory, ProjectFactory
from webhooks.models import Delivery, DeliveryStatus, Webhook
from webhooks.secrets import secret_generate

pytestmark = pytest.mark.django_db

HOOK_URL = "https://127.0.0.1/hooks/hopla"
SECRET_FIELDS = ("secret", "previous_secret")


def make_webhook(project: Any, **fields: Any) -> Webhook:
    return Webhook.objects.create(project=project, url=HOOK_URL, events=["*"], secret=secret_generate(), **fields)


def make_delivery(webhook: Webhook, **fields: Any) -> Delivery:
    values: dict[str, Any] = {
        "event_id": uuid.uuid4(),
        "event_type": "ticket.created",
        "payload": {"type": "ticket.created"},
        **fields,
    }
    return Delivery.objects.create(webhook=webhook, **values)


def webhooks_url(team: Team, *rest: Any) -> str:
    return "/".join(["/api/v1/projects", team.project.key, "webhooks", *map(str, rest), ""])


def rows() -> tuple[Any, ...]:
    """Every webhook and delivery column: what a refused request must leave as it was."""
    return (
        sorted(map(str, Webhook.objects.values_list())),
        sorted(map(str, Delivery.objects.values_list())),
    )


def assert_no_secret(body: Any) -> None:
    text = json.dumps(body)
    for webhook in Webhook.objects.all():
        assert webhook.secret not in text
    assert '"secret"' not in text


# --- create ---------------------------------------------------------------------------------------


def test_an_admin_registers_a_webhook_and_sees_its_generated_secret_once(team):
    client = team.client("admin")

    created = client.post(
        webhooks_url(team),
        {"url": HOOK_URL, "events": ["ticket.created", "ticket.created", "comment.created"], "description": "CI"},
        format="json",
    )

    assert created.status_code == 201, created.content
    body = created.json()
    webhook = Webhook.objects.get()
    assert body["secret"] == webhook.secret
    assert body["secret"].startswith("whsec_")
    assert body["events"] == ["ticket.created", "comment.created"]  # repeats dropped, order kept
    assert body["project"] == str(team.project.pk)
    assert body["created_by"]["id"] == str(team.admin.pk)
    assert body["active"] is True
    assert body["disabled_reason"] == ""
    assert set(body) == {
        "id", "project", "url", "events", "description", "active", "created_by", "created_at", "updated_at",
        "disabled_reason", "last_success_at", "last_failure_at", "secret",
    }  # fmt: skip
    shown = client.get(webhooks_url(team, webhook.pk)).json()
    assert shown == {key: value for key, value in body.items() if key != "secret"}
    assert_no_secret(shown)
    assert_no_secret(client.get(webhooks_url(team)).json())


def test_a_secret_given_in_whsec_form_is_kept(team):
    secret = secret_generate()

    created = team.client("admin").post(
        webhooks_url(team), {"url": HOOK_URL, "events": ["*"], "secret": secret}, format="json"
    )

    assert created.status_code == 201
    assert created.json()["secret"] == secret == Webhook.objects.get().secret


def test_a_webhook_may_be_created_inactive_and_by_the_project_id(team):
    url = f"/api/v1/projects/{team.project.pk}/webhooks/"

    created = team.client("admin").post(url, {"url": HOOK_URL, "events": ["*"], "active": False}, format="json")

    assert created.status_code == 201
    assert Webhook.objects.get().active is False


BAD_BODIES = [
    pytest.param({"events": ["*"]}, "url", "required", id="no url"),
    pytest.param({"url": "not a url", "events": ["*"]}, "url", "invalid", id="malformed url"),
    pytest.param({"url": 42, "events": ["*"]}, "url", "invalid", id="url of another type"),
    pytest.param({"url": "https://127.0.0.1/" + "a" * 2000, "events": ["*"]}, "url", "max_length", id="long url"),
    pytest.param({"url": HOOK_URL}, "events", "required", id="no events"),
    pytest.param({"url": HOOK_URL, "events": []}, "events", "empty", id="no event types"),
    pytest.param({"url": HOOK_URL, "events": "ticket.created"}, "events", "not_a_list", id="events not a list"),
    pytest.param({"url": HOOK_URL, "events": ["ticket.exploded"]}, "events", "unknown", id="unknown type"),
    pytest.param({"url": HOOK_URL, "events": ["*", "ticket.created"]}, "events", "star_alone", id="star and more"),
    pytest.param({"url": HOOK_URL, "events": [{"a": 1}]}, "events", "invalid", id="event type not a string"),
    pytest.param({"url": HOOK_URL, "events": ["*"], "secret": "hunter2"}, "secret", "invalid_secret", id="no whsec_"),
    pytest.param(
        {"url": HOOK_URL, "events": ["*"], "secret": "whsec_not*base64"}, "secret", "invalid_secret", id="not base64"
    ),
    pytest.param(
        {"url": HOOK_URL, "events": ["*"], "secret": "whsec_c2hvcnQ="}, "secret", "invalid_secret", id="short key"
    ),
    pytest.param({"url": HOOK_URL, "events": ["*"], "active": "maybe"}, "active", "invalid", id="active not bool"),
    pytest.param(
        {"url": HOOK_URL, "events": ["*"], "description": "x" * 501}, "description", "max_length", id="long text"
    ),
]


@pytest.mark.parametrize(("body", "field", "code"), BAD_BODIES)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(team, body, field, code):
    response = team.client("admin").post(webhooks_url(team), body, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert response.json()["errors"][field][0]["code"] == code
    assert not Webhook.objects.exists()


def test_an_unknown_event_type_is_named_with_the_known_ones(team):
    response = team.client("admin").post(
        webhooks_url(team), {"url": HOOK_URL, "events": ["ticket.created", "tikcet.updated"]}, format="json"
    )

    message = response.json()["errors"]["events"][0]["message"]
    assert "tikcet.updated" in message
    assert "ticket.updated" in message


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",  # plain http, WEBHOOK_ALLOW_HTTP off
        "https://10.0.0.8/hook",  # private
        "https://169.254.169.254/latest/meta-data/",  # link-local: cloud metadata
        "https://[::ffff:10.1.1.1]/hook",  # IPv4-mapped private
        "https://localhost.invalid/hook",  # does not resolve
        "https://user:pw@127.0.0.1/hook",  # credentials
    ],
)
def test_an_unsafe_url_is_a_400_unsafe_url_and_writes_nothing(team, url):
    response = team.client("admin").post(webhooks_url(team), {"url": url, "events": ["*"]}, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "unsafe_url"
    assert not Webhook.objects.exists()


def test_plain_http_is_accepted_when_allowed(team, settings):
    settings.WEBHOOK_ALLOW_HTTP = True

    response = team.client("admin").post(
        webhooks_url(team), {"url": "http://127.0.0.1:9/hook", "events": ["*"]}, format="json"
    )

    assert response.status_code == 201


def test_a_huge_body_is_refused_before_parsing(team, settings):
    body = {"url": HOOK_URL, "events": ["*"], "description": "x" * (settings.API_MAX_JSON_BYTES + 1)}

    response = team.client("admin").post(webhooks_url(team), body, format="json")

    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert not Webhook.objects.exists()


def test_a_body_that_is_not_an_object_is_a_400(team):
    response = team.client("admin").post(webhooks_url(team), ["*"], format="json")

    assert response.status_code == 400
    assert not Webhook.objects.exists()


# --- list, detail, update, delete -----------------------------------------------------------------


def test_the_list_shows_the_projects_webhooks_only_without_secrets(team):
    mine = [make_webhook(team.project, created_by=team.admin) for _ in range(2)]
    make_webhook(ProjectFactory(key="SEC"))

    response = team.client("admin").get(webhooks_url(team))

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert body["next"] is None
    assert [hook["id"] for hook in body["results"]] == [str(hook.pk) for hook in mine]
    assert_no_secret(body)


def test_the_list_pages_by_limit_and_offset(team):
    for _ in range(3):
        make_webhook(team.project)

    page = team.client("admin").get(webhooks_url(team), {"limit": 2, "offset": 2}).json()

    assert page["count"] == 3
    assert len(page["results"]) == 1
    assert page["previous"]


def test_an_admin_edits_a_webhook_and_gets_the_full_object(team):
    webhook = make_webhook(team.project)
    client = team.client("admin")

    response = client.patch(
        webhooks_url(team, webhook.pk),
        {"url": "https://127.0.0.1/other", "events": ["comment.created"], "description": "Chat"},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json() == client.get(webhooks_url(team, webhook.pk)).json()
    webhook.refresh_from_db()
    assert (webhook.url, webhook.events, webhook.description) == (
        "https://127.0.0.1/other",
        ["comment.created"],
        "Chat",
    )
    assert_no_secret(response.json())


def test_active_true_re_enables_a_disabled_webhook(team):
    webhook = make_webhook(team.project, active=False, disabled_reason="15 deliveries failed in a row.")

    response = team.client("admin").patch(webhooks_url(team, webhook.pk), {"active": True}, format="json")

    assert response.status_code == 200
    assert response.json()["active"] is True
    assert response.json()["disabled_reason"] == ""


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"events": []}, "events", "empty"),
        ({"events": ["nope"]}, "events", "unknown"),
        ({"url": "ftp://127.0.0.1/"}, None, "unsafe_url"),
        ({"url": "https://10.0.0.8/"}, None, "unsafe_url"),
        ({"secret": secret_generate()}, "secret", "immutable"),
        ({"url": None}, "url", "null"),
    ],
)
def test_a_refused_edit_changes_nothing(team, body, field, code):
    webhook = make_webhook(team.project)
    before = rows()

    response = team.client("admin").patch(webhooks_url(team, webhook.pk), body, format="json")

    assert response.status_code == 400, response.content
    if field is None:
        assert response.json()["code"] == code
    else:
        assert response.json()["errors"][field][0]["code"] == code
    assert rows() == before


def test_deleting_a_webhook_takes_its_pending_deliveries_with_it(team):
    webhook = make_webhook(team.project)
    make_delivery(webhook)

    response = team.client("admin").delete(webhooks_url(team, webhook.pk))

    assert response.status_code == 204
    assert not Webhook.objects.exists()
    assert not Delivery.objects.exists()


# --- ping and rotate ------------------------------------------------------------------------------


def test_ping_queues_a_webhook_ping_delivery_without_the_secret(team):
    webhook = make_webhook(team.project)

    response = team.client("admin").post(webhooks_url(team, webhook.pk, "ping"))

    assert response.status_code == 202, response.content
    body = response.json()
    delivery = Delivery.objects.get()
    assert body["id"] == str(delivery.pk)
    assert body["event_type"] == "webhook.ping"
    assert body["status"] == "pending"
    assert delivery.next_attempt_at is not None
    assert delivery.next_attempt_at <= timezone.now()
    assert delivery.payload["type"] == "webhook.ping"
    assert delivery.payload["data"]["id"] == str(webhook.pk)
    assert webhook.secret not in json.dumps(delivery.payload)
    assert_no_secret(body)


def test_rotating_shows_the_new_secret_and_keeps_the_old_one_signing(team, settings):
    webhook = make_webhook(team.project)
    old = webhook.secret

    response = team.client("admin").post(webhooks_url(team, webhook.pk, "rotate-secret"))

    assert response.status_code == 200
    webhook.refresh_from_db()
    assert response.json()["secret"] == webhook.secret != old
    assert webhook.previous_secret == old
    assert webhook.previous_secret_expires_at > timezone.now()
    assert old not in response.content.decode()


# --- deliveries -----------------------------------------------------------------------------------


def test_deliveries_are_listed_newest_first_and_filtered_by_status(team):
    webhook = make_webhook(team.project)
    failed = make_delivery(webhook, status=DeliveryStatus.FAILED)
    succeeded = make_delivery(webhook, status=DeliveryStatus.SUCCEEDED)
    pending = make_delivery(webhook)
    make_delivery(make_webhook(team.project))  # another webhook's
    client = team.client("admin")
    url = webhooks_url(team, webhook.pk, "deliveries")

    everything = client.get(url).json()
    finished = client.get(url, {"status": "failed,succeeded"}).json()

    assert [d["id"] for d in everything["results"]] == [str(d.pk) for d in (pending, succeeded, failed)]
    assert everything["count"] == 3
    assert [d["id"] for d in finished["results"]] == [str(succeeded.pk), str(failed.pk)]
    assert "request_body" not in everything["results"][0]


@pytest.mark.parametrize("status", ["sleeping", "pending,nope", ","])
def test_a_bad_status_filter_is_a_400_naming_it(team, status):
    webhook = make_webhook(team.project)

    response = team.client("admin").get(webhooks_url(team, webhook.pk, "deliveries"), {"status": status})

    assert response.status_code == 400
    assert "status" in response.json()["errors"]


def test_a_delivery_shows_what_was_sent_and_what_came_back(team):
    webhook = make_webhook(team.project)
    delivery = make_delivery(
        webhook,
        status=DeliveryStatus.FAILED,
        attempts=1,
        last_status_code=503,
        request_body='{"type":"ticket.created"}',
        response_headers={"content-type": "text/plain"},
        response_body="down",
    )

    body = team.client("admin").get(webhooks_url(team, webhook.pk, "deliveries", delivery.pk)).json()

    assert body["request_body"] == '{"type":"ticket.created"}'
    assert body["response"] == {"status_code": 503, "headers": {"content-type": "text/plain"}, "body": "down"}
    assert body["event_id"] == str(delivery.event_id)
    assert_no_secret(body)


def test_a_delivery_without_an_answer_yet_has_no_response(team):
    webhook = make_webhook(team.project)
    delivery = make_delivery(webhook)

    body = team.client("admin").get(webhooks_url(team, webhook.pk, "deliveries", delivery.pk)).json()

    assert body["response"] is None
    assert body["status"] == "pending"


def test_redeliver_queues_a_new_attempt_with_the_same_event_id(team):
    webhook = make_webhook(team.project)
    delivery = make_delivery(webhook, status=DeliveryStatus.FAILED, attempts=8)

    response = team.client("admin").post(webhooks_url(team, webhook.pk, "deliveries", delivery.pk, "redeliver"))

    assert response.status_code == 202, response.content
    assert response.json()["status"] == "pending"
    assert response.json()["event_id"] == str(delivery.event_id)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.next_attempt_at <= timezone.now()
    assert Delivery.objects.count() == 1


def test_redeliver_of_a_pending_delivery_is_a_409(team):
    webhook = make_webhook(team.project)
    delivery = make_delivery(webhook)
    before = rows()

    response = team.client("admin").post(webhooks_url(team, webhook.pk, "deliveries", delivery.pk, "redeliver"))

    assert response.status_code == 409
    assert response.json()["code"] == "delivery_pending"
    assert rows() == before


# --- someone else's objects -----------------------------------------------------------------------


def test_another_projects_webhook_and_delivery_answer_404_to_an_admin_of_both(team):
    """Even an admin of both projects reaches a webhook only under its own project."""
    elsewhere = ProjectFactory(key="SEC")
    MembershipFactory(project=elsewhere, user=team.admin, role=Role.ADMIN)
    foreign = make_webhook(elsewhere)
    foreign_delivery = make_delivery(foreign, status=DeliveryStatus.FAILED)
    own = make_webhook(team.project)
    client = team.client("admin")
    before = rows()

    answers = [
        client.get(webhooks_url(team, foreign.pk)),
        client.patch(webhooks_url(team, foreign.pk), {"description": "x"}, format="json"),
        client.delete(webhooks_url(team, foreign.pk)),
        client.post(webhooks_url(team, foreign.pk, "ping")),
        client.post(webhooks_url(team, foreign.pk, "rotate-secret")),
        client.get(webhooks_url(team, foreign.pk, "deliveries")),
        client.get(webhooks_url(team, foreign.pk, "deliveries", foreign_delivery.pk)),
        client.get(webhooks_url(team, own.pk, "deliveries", foreign_delivery.pk)),
        client.post(webhooks_url(team, own.pk, "deliveries", foreign_delivery.pk, "redeliver")),
    ]

    assert [answer.status_code for answer in answers] == [404] * len(answers)
    assert {answer.json()["code"] for answer in answers} == {"not_found"}
    assert rows() == before


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_members_and_viewers_are_refused_even_reading(team, role):
    webhook = make_webhook(team.project)
    client = team.client(role)

    listed = client.get(webhooks_url(team))
    shown = client.get(webhooks_url(team, webhook.pk))

    assert listed.status_code == shown.status_code == 403
    assert "admins" in listed.json()["detail"]


def test_an_outsider_cannot_tell_a_projects_webhook_from_a_missing_one(team):
    webhook = make_webhook(team.project)

    hidden = team.client("outsider").get(webhooks_url(team, webhook.pk))
    missing = client_for(team.admin).get(f"/api/v1/projects/NOPE/webhooks/{webhook.pk}/")

    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()


# --- query counts ---------------------------------------------------------------------------------

# 1. JWT user lookup
# 2. the project by key with the user's role as a subquery (access check)
# 3. SELECT COUNT(*) FROM webhooks_webhook WHERE project_id = ...  (pagination)
# 4. the page: webhooks JOIN created_by
WEBHOOK_LIST_QUERIES = 4
# 1. JWT user lookup
# 2. the project (access check)
# 3. the webhook by id under it
# 4. SELECT COUNT(*) of its deliveries (pagination)
# 5. the page: deliveries without their bodies
DELIVERY_LIST_QUERIES = 5


@pytest.mark.parametrize("size", [1, 50])
def test_the_webhook_list_costs_the_same_whatever_its_size(team, django_assert_num_queries, size):
    for _ in range(size):
        make_webhook(team.project, created_by=MembershipFactory(project=team.project).user)
    client = team.client("admin")

    with django_assert_num_queries(WEBHOOK_LIST_QUERIES):
        response = client.get(webhooks_url(team), {"limit": 100})

    assert len(response.json()["results"]) == size


@pytest.mark.parametrize("size", [1, 50])
def test_the_delivery_list_costs_the_same_whatever_its_size(team, django_assert_num_queries, size):
    webhook = make_webhook(team.project)
    for _ in range(size):
        make_delivery(webhook, status=DeliveryStatus.FAILED)
    client = team.client("admin")

    with django_assert_num_queries(DELIVERY_LIST_QUERIES):
        response = client.get(webhooks_url(team, webhook.pk, "deliveries"), {"limit": 100, "status": "failed"})

    assert len(response.json()["results"]) == size
