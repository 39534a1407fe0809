"""The services' refusals (nothing half-written), deletes, and the drain's claims: one drain per
webhook at a time, a lease that runs out frees its deliveries, queries that do not grow with them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from hopla.api.exceptions import InvalidField, StateConflict
from webhooks.delivering import DrainLease, deliveries_drain, deliveries_due
from webhooks.dispatching import deliveries_start, events_dispatch
from webhooks.models import Delivery, DeliveryStatus, Webhook
from webhooks.safety import UnsafeUrl
from webhooks.services import webhook_create, webhook_delete, webhook_ping, webhook_update
from webhooks.tests.conftest import events_write
from webhooks.tests.receiver import Answer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("webhook_settings")]


@pytest.mark.parametrize(
    ("fields", "refusal"),
    [
        ({"url": "http://10.0.0.1/hook"}, UnsafeUrl),
        ({"url": "http://169.254.169.254/latest"}, UnsafeUrl),
        ({"url": "ftp://127.0.0.1/hook"}, UnsafeUrl),
        ({"events": ["ticket.exploded"]}, InvalidField),
        ({"events": []}, InvalidField),
        ({"events": ["*", "ticket.created"]}, InvalidField),
        ({"secret": "not-a-secret"}, InvalidField),
        ({"secret": "whsec_c2hvcnQ="}, InvalidField),
    ],
)
def test_a_refused_webhook_writes_nothing(project, admin, receiver, fields, refusal):
    with pytest.raises(refusal):
        webhook_create(project=project, actor=admin, **{"url": receiver.url, "events": ["*"], **fields})
    assert not Webhook.objects.exists()


def test_an_update_checks_the_url_again(project, admin, receiver):
    webhook = webhook_create(project=project, actor=admin, url=receiver.url, events=["*"])
    with pytest.raises(UnsafeUrl):
        webhook_update(webhook=webhook, data={"url": "http://192.168.1.1/"})
    assert Webhook.objects.get().url == receiver.url


def test_deleting_a_webhook_cancels_its_pending_deliveries(project, admin, receiver):
    webhook = webhook_create(project=project, actor=admin, url=receiver.url, events=["*"])
    events_write(project, admin, ["ticket.created"] * 3)
    events_dispatch()
    assert Delivery.objects.filter(status=DeliveryStatus.PENDING).count() == 3
    webhook_delete(webhook=webhook)
    assert not Delivery.objects.exists()
    assert deliveries_start() == 0
    assert receiver.received == []


def test_a_ping_of_a_disabled_webhook_is_refused(project, admin, receiver):
    webhook = webhook_create(project=project, actor=admin, url=receiver.url, events=["*"], active=False)
    with pytest.raises(StateConflict) as refused:
        webhook_ping(webhook=webhook)
    assert refused.value.get_codes() == "webhook_inactive"
    assert not Delivery.objects.exists()


def test_one_drain_per_webhook_at_a_time_and_a_lease_that_ran_out_frees_the_webhook(project, admin, receiver):
    webhook = webhook_create(project=project, actor=admin, url=receiver.url, events=["*"])
    events = events_write(project, admin, ["ticket.created"] * 5)
    events_dispatch()
    lease = DrainLease.take(webhook.pk)
    assert lease is not None
    assert [delivery.event_seq for delivery in deliveries_due(lease.webhook, limit=2)] == [events[0].seq, events[1].seq]
    # A second drain (another worker) takes nothing while the first holds the webhook.
    assert DrainLease.take(webhook.pk) is None
    assert deliveries_drain(webhook_id=webhook.pk) is False
    assert receiver.received == []

    # The first worker died: once its lease has run out, another drain delivers everything, in order;
    # the dead drain's lease is lost (it would stop at its next record).
    Webhook.objects.filter(pk=webhook.pk).update(drain_leased_until=timezone.now() - timedelta(seconds=1))
    assert deliveries_drain(webhook_id=webhook.pk) is False
    assert receiver.seqs() == [event.seq for event in events]
    assert lease.renew() is False
    assert Webhook.objects.values_list("drain_token", "drain_leased_until").get(pk=webhook.pk) == (None, None)


@pytest.mark.parametrize("count", [3, 40])
def test_a_drain_makes_the_same_queries_whatever_the_number_of_deliveries(
    project, admin, receiver, count, django_assert_num_queries
):
    webhook = webhook_create(project=project, actor=admin, url=receiver.url, events=["*"])
    events_write(project, admin, ["ticket.created"] * count)
    events_dispatch()
    # the lease (taken, its webhook read), the deliveries due, the records (savepoint, outcomes, webhook
    # health, lease renewed, release), the next deliveries due (none), the lease released
    with django_assert_num_queries(10):
        assert deliveries_drain(webhook_id=webhook.pk) is False
    assert len(receiver.received) == count


def test_a_drain_reads_pings_first_then_events_by_seq_within_its_limit(project, admin, receiver):
    webhook = webhook_create(project=project, actor=admin, url=receiver.url, events=["*"])
    events = events_write(project, admin, ["ticket.created"] * 3)
    events_dispatch()
    pings = [webhook_ping(webhook=webhook), webhook_ping(webhook=webhook)]
    lease = DrainLease.take(webhook.pk)
    assert lease is not None
    due = deliveries_due(lease.webhook, limit=4)
    assert [delivery.pk for delivery in due[:2]] == [ping.pk for ping in pings]
    assert [delivery.event_seq for delivery in due[2:]] == [events[0].seq, events[1].seq]
    assert [delivery.event_seq for delivery in deliveries_due(lease.webhook, limit=1)] == [None]


def test_a_drain_stops_at_its_time_with_its_batch_half_sent_and_the_next_goes_on_in_order(
    project, admin, receiver, monkeypatch
):
    """A slow receiver does not keep a drain (and its job) past DRAIN_SECONDS for a whole batch: what was
    attempted is recorded, the rest is left for the next drain, which goes on in `seq` order."""
    monkeypatch.setattr("webhooks.delivering.DRAIN_SECONDS", 0.5)
    receiver.default = Answer(status=200, delay=0.2)
    webhook = webhook_create(project=project, actor=admin, url=receiver.url, events=["*"])
    events = events_write(project, admin, ["ticket.created"] * 8)
    events_dispatch()
    assert deliveries_drain(webhook_id=webhook.pk) is True  # stopped for time, deliveries left
    sent = len(receiver.received)
    assert 1 <= sent <= 4
    assert Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == sent
    while deliveries_drain(webhook_id=webhook.pk):
        pass
    assert receiver.seqs() == [event.seq for event in events]
