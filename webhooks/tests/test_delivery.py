"""Deliveries against a real HTTP receiver: who gets what, in which order, signed how, and what is
recorded when the receiver fails, redirects, answers too much or too late."""

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from standardwebhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError

from hopla.api.exceptions import StateConflict
from tickets.services.event_publishing import event_payload
from tickets.tests.factories import ProjectFactory
from webhooks.attempts import KEPT_RESPONSE_BYTES
from webhooks.delivering import deliveries_drain
from webhooks.dispatching import events_dispatch
from webhooks.models import Delivery, DeliveryStatus, Webhook
from webhooks.services import (
    delivery_redeliver,
    webhook_create,
    webhook_ping,
    webhook_rotate_secret,
    webhook_update,
)
from webhooks.tests.conftest import events_write
from webhooks.tests.receiver import Answer, Receiver

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("webhook_settings")]


def deliver_all(*webhooks: Webhook) -> None:
    """What the worker does: dispatch the new events, then drain each webhook until nothing is due."""
    while events_dispatch():
        pass
    for webhook in webhooks:
        while deliveries_drain(webhook_id=webhook.pk):
            pass


def hook(project: Any, admin: Any, receiver: Receiver, events: list[str], **extra: Any) -> Webhook:
    return webhook_create(project=project, actor=admin, url=receiver.url, events=events, **extra)


def test_events_go_to_the_webhooks_that_listen_to_them_signed_as_standard_webhooks(project, admin, receiver):
    created_only = hook(project, admin, receiver, ["ticket.created"])
    everything = hook(project, admin, Receiver(), ["*"])
    other_project = hook(ProjectFactory(), admin, Receiver(), ["*"])
    events = events_write(project, admin, ["ticket.created", "comment.created", "ticket.created"])
    deliver_all(created_only, everything, other_project)

    assert receiver.seqs() == [events[0].seq, events[2].seq]
    for request, event in zip(receiver.received, [events[0], events[2]], strict=True):
        body = request.verified(created_only.secret)
        assert body == {"type": "ticket.created", "timestamp": event_payload(event)["at"], "data": event_payload(event)}
        assert request.headers["webhook-id"] == str(event.id)
        assert request.headers["user-agent"] == "hopla-webhooks/1"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["webhook-signature"].startswith("v1,")
        with pytest.raises(WebhookVerificationError):
            Verifier(everything.secret).verify(request.body, request.headers)
    assert Delivery.objects.filter(webhook=everything).count() == 3
    assert not Delivery.objects.filter(webhook=other_project).exists()
    delivery = Delivery.objects.get(webhook=created_only, event_id=events[0].id)
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (1, 200, "")
    assert json.loads(delivery.request_body) == json.loads(receiver.received[0].body)
    assert delivery.response_body == "ok"
    assert delivery.delivered_at is not None
    assert Webhook.objects.get(pk=created_only.pk).last_success_at is not None


def test_events_before_the_webhook_existed_are_not_delivered(project, admin, receiver):
    events_write(project, admin, ["ticket.created"])
    webhook = hook(project, admin, receiver, ["*"])
    later = events_write(project, admin, ["ticket.updated"])
    deliver_all(webhook)
    assert receiver.seqs() == [later[0].seq]


def test_first_attempts_go_in_seq_order_and_a_retry_does_not_hold_back_the_rest(project, admin, receiver, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = [3600]
    webhook = hook(project, admin, receiver, ["*"])
    receiver.answers = [Answer(status=500)]
    events = events_write(project, admin, ["ticket.created"] * 30)
    deliver_all(webhook)
    assert receiver.seqs() == [event.seq for event in events]
    first = Delivery.objects.get(event_id=events[0].id)
    assert first.status == DeliveryStatus.PENDING
    assert first.next_attempt_at > timezone.now() + timedelta(minutes=59)
    assert Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 29


def test_a_failing_delivery_is_retried_on_schedule_until_it_succeeds(project, admin, receiver):
    webhook = hook(project, admin, receiver, ["*"])
    receiver.answers = [Answer(status=500), Answer(status=503, body=b"busy")]
    [event] = events_write(project, admin, ["ticket.created"])
    deliver_all(webhook)
    assert receiver.ids() == [str(event.id)] * 3  # the same webhook-id on every attempt
    assert len({request.body for request in receiver.received}) == 1
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.SUCCEEDED, 3, 200)
    assert Webhook.objects.get().consecutive_failures == 0


def test_after_the_last_retry_the_delivery_fails_and_enough_failures_disable_the_webhook(
    project, admin, receiver, settings
):
    settings.WEBHOOK_RETRY_SCHEDULE = [0, 0]
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 2
    webhook = hook(project, admin, receiver, ["*"])
    receiver.default = Answer(status=500, body=b"down")
    events_write(project, admin, ["ticket.created"])
    deliver_all(webhook)
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (DeliveryStatus.FAILED, 3, "HTTP 500")
    assert delivery.next_attempt_at is None
    webhook.refresh_from_db()
    assert (webhook.active, webhook.consecutive_failures) == (True, 1)
    assert webhook.last_failure_at is not None

    events_write(project, admin, ["ticket.updated"])
    deliver_all(webhook)
    webhook.refresh_from_db()
    assert (webhook.active, webhook.consecutive_failures) == (False, 2)
    assert "2 deliveries in a row failed" in webhook.disabled_reason
    assert len(receiver.received) == 6

    events_write(project, admin, ["ticket.deleted"])
    deliver_all(webhook)
    assert len(receiver.received) == 6  # an inactive webhook gets nothing

    receiver.default = Answer()
    webhook_update(webhook=webhook, data={"active": True})
    webhook.refresh_from_db()
    assert (webhook.active, webhook.disabled_reason, webhook.consecutive_failures) == (True, "", 0)


def test_a_success_resets_the_count_of_failures(project, admin, receiver, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = []
    webhook = hook(project, admin, receiver, ["*"])
    receiver.answers = [Answer(status=500), Answer(status=500), Answer(), Answer(status=500)]
    events_write(project, admin, ["ticket.created"] * 4)
    deliver_all(webhook)
    webhook.refresh_from_db()
    assert webhook.consecutive_failures == 1


def test_a_redirect_is_not_followed(project, admin, receiver, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = []
    webhook = hook(project, admin, receiver, ["*"])
    receiver.default = Answer(status=302, headers={"location": f"http://127.0.0.1:{receiver.port}/elsewhere"})
    events_write(project, admin, ["ticket.created"])
    deliver_all(webhook)
    assert [request.path for request in receiver.received] == ["/hooks"]
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_status_code == 302
    assert delivery.last_error.startswith("redirect not followed: 302 to http://127.0.0.1")


def test_a_cookie_a_receiver_sets_is_never_sent_again(project, admin, receiver):
    """One HTTP client serves every project's webhooks: no cookie may go from one receiver's answer into
    a later attempt, to it or to another project's webhook on the same host."""
    webhook = hook(project, admin, receiver, ["*"])
    other_project = ProjectFactory(created_by=admin)
    other = hook(other_project, admin, receiver, ["*"])
    receiver.answers = [Answer(headers={"set-cookie": "session=project-one-secret; Path=/"})]
    events_write(project, admin, ["ticket.created"])
    deliver_all(webhook)
    events_write(project, admin, ["ticket.updated"])
    events_write(other_project, admin, ["ticket.created"])
    deliver_all(webhook, other)
    assert len(receiver.received) == 3
    assert [request.headers.get("cookie") for request in receiver.received] == [None, None, None]


def test_a_big_answer_is_read_to_64_kb_and_kept_to_2_kb(project, admin, receiver):
    webhook = hook(project, admin, receiver, ["*"])
    receiver.default = Answer(body=b"x" * 5_000_000, headers={"x-receiver": "big"})
    events_write(project, admin, ["ticket.created", "ticket.updated"])
    deliver_all(webhook)
    for delivery in Delivery.objects.all():
        assert delivery.status == DeliveryStatus.SUCCEEDED
        assert delivery.response_body == "x" * KEPT_RESPONSE_BYTES
        assert delivery.response_headers["x-receiver"] == "big"


def test_an_answer_later_than_the_timeout_fails_the_attempt(project, admin, receiver, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    settings.WEBHOOK_RETRY_SCHEDULE = []
    webhook = hook(project, admin, receiver, ["*"])
    receiver.default = Answer(delay=1.5)
    events_write(project, admin, ["ticket.created"])
    deliver_all(webhook)
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_error.startswith("timeout")
    assert delivery.last_status_code is None


def test_a_ping_delivers_the_webhook_without_its_secret(project, admin, receiver):
    webhook = hook(project, admin, receiver, ["ticket.created"])
    delivery = webhook_ping(webhook=webhook)
    deliver_all(webhook)
    [request] = receiver.received
    body = request.verified(webhook.secret)
    assert body["type"] == "webhook.ping"
    assert body["data"]["id"] == request.headers["webhook-id"] == str(delivery.event_id)
    assert body["data"]["data"]["url"] == receiver.url
    assert webhook.secret not in request.body.decode()
    assert "secret" not in body["data"]["data"]


def test_redeliver_sends_the_same_webhook_id_again_and_refuses_a_pending_delivery(project, admin, receiver):
    webhook = hook(project, admin, receiver, ["*"])
    [event] = events_write(project, admin, ["ticket.created"])
    deliver_all(webhook)
    delivery = Delivery.objects.get()
    again = delivery_redeliver(delivery=delivery)
    assert (again.pk, again.status, again.attempts) == (delivery.pk, DeliveryStatus.PENDING, 0)
    with pytest.raises(StateConflict) as refused:
        delivery_redeliver(delivery=again)
    assert refused.value.status_code == 409
    assert refused.value.get_codes() == "delivery_pending"
    deliver_all(webhook)
    assert receiver.ids() == [str(event.id)] * 2
    assert Delivery.objects.get().status == DeliveryStatus.SUCCEEDED


def test_during_a_rotation_both_secrets_sign_and_after_the_overlap_only_the_new_one(project, admin, receiver):
    webhook = hook(project, admin, receiver, ["*"])
    old_secret = webhook.secret
    webhook_rotate_secret(webhook=webhook)
    assert webhook.secret != old_secret
    events_write(project, admin, ["ticket.created"])
    deliver_all(webhook)
    request = receiver.received[-1]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    request.verified(old_secret)
    request.verified(webhook.secret)

    Webhook.objects.filter(pk=webhook.pk).update(previous_secret_expires_at=timezone.now() - timedelta(seconds=1))
    events_write(project, admin, ["ticket.updated"])
    deliver_all(webhook)
    request = receiver.received[-1]
    request.verified(webhook.secret)
    with pytest.raises(WebhookVerificationError):
        request.verified(old_secret)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::ffff:127.0.0.1]"])
def test_a_host_that_resolves_to_a_refused_address_at_connect_time_gets_nothing(
    project, admin, receiver, settings, host
):
    """DNS rebinding: `localhost` was allowed when the webhook was saved; now its addresses are not. An IP
    literal, which aiohttp never resolves, is checked as the address the socket connects to (an IPv4-mapped
    IPv6 address judged as the IPv4 address it maps)."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32", "::1/128"]
    settings.WEBHOOK_RETRY_SCHEDULE = []
    webhook = hook(project, admin, receiver, ["*"])
    Webhook.objects.filter(pk=webhook.pk).update(url=f"http://{host}:{receiver.port}/hooks")
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    events_write(project, admin, ["ticket.created"])
    deliver_all(webhook)
    assert receiver.received == []
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_error.startswith("unsafe_url: ")
    assert "loopback" in delivery.last_error


def test_dispatch_makes_the_same_queries_for_1_or_60_events_and_webhooks(
    project, admin, receiver, django_assert_num_queries
):
    other = ProjectFactory()
    hook(project, admin, receiver, ["*"])
    events_write(project, admin, ["ticket.created"])
    # savepoint, cursor, events, webhooks, deliveries, cursor, release
    with django_assert_num_queries(7):
        assert events_dispatch() == 1
    for _ in range(4):
        hook(project, admin, receiver, ["ticket.created", "comment.created"])
        hook(other, admin, receiver, ["*"])
    events_write(project, admin, ["ticket.created", "comment.created", "ticket.updated"] * 10)
    events_write(other, admin, ["ticket.created"] * 30)
    with django_assert_num_queries(7):
        assert events_dispatch() == 60
    assert Delivery.objects.count() == 1 + 30 + 4 * 20 + 4 * 30
