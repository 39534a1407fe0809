"""The delivery client's checks of the address it connects to (webhooks.transport), and the sender's
chunks (webhooks.sender), against a real receiver."""

import socket
import threading
import time
import uuid
from typing import Any

import pytest

from webhooks.models import Delivery, DeliveryStatus, Webhook
from webhooks.safety import UnsafeUrl
from webhooks.sender import sender
from webhooks.tests.conftest import events_write
from webhooks.tests.receiver import Answer, Receiver
from webhooks.tests.test_delivery import deliver_all, hook
from webhooks.transport import safe_socket

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("webhook_settings")]


def test_an_ipv4_mapped_literal_reaches_an_allowed_receiver(project, admin, receiver):
    webhook = hook(project, admin, receiver, ["*"])
    Webhook.objects.filter(pk=webhook.pk).update(url=f"http://[::ffff:127.0.0.1]:{receiver.port}/hooks")
    events_write(project, admin, ["ticket.created"])
    deliver_all(webhook)
    assert len(receiver.received) == 1
    assert Delivery.objects.get().status == DeliveryStatus.SUCCEEDED


def test_a_name_with_one_refused_address_among_public_ones_is_refused_whole(
    project, admin, receiver, settings, monkeypatch
):
    """Failing over from a refused address to the next would let a name that mixes a public and a private
    address choose; every address of the name is judged before any is tried."""
    real_getaddrinfo = socket.getaddrinfo

    def mixed(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "mixed.hopla.test":
            return real_getaddrinfo(host, port, *args, **kwargs)
        public = (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))
        private = (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port))
        return [public, private]

    settings.WEBHOOK_RETRY_SCHEDULE = []
    webhook = hook(project, admin, receiver, ["*"])
    Webhook.objects.filter(pk=webhook.pk).update(url="http://mixed.hopla.test/hooks")
    monkeypatch.setattr(socket, "getaddrinfo", mixed)
    events_write(project, admin, ["ticket.created"])
    deliver_all(webhook)
    delivery = Delivery.objects.get()
    assert delivery.last_error.startswith("unsafe_url: ")
    assert "10.1.2.3 is a private address" in delivery.last_error


def test_a_host_name_that_cannot_be_encoded_fails_its_attempt_and_the_drain_goes_on(project, admin, receiver, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = []
    broken = hook(project, admin, receiver, ["*"])
    Webhook.objects.filter(pk=broken.pk).update(url=f"http://{'a' * 64}.hopla.test/hooks")
    events_write(project, admin, ["ticket.created", "ticket.updated"])
    deliver_all(broken)
    assert [(d.status, d.last_error[:12]) for d in Delivery.objects.order_by("event_seq")] == [
        (DeliveryStatus.FAILED, "UnicodeError")
    ] * 2


def test_the_socket_factory_refuses_before_a_socket_exists(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    with pytest.raises(UnsafeUrl):
        safe_socket((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 80)))
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    allowed = safe_socket((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80)))
    assert allowed.family == socket.AF_INET
    allowed.close()


def _deliveries(count: int) -> list[Delivery]:
    """Unsaved deliveries: an attempt reads only their event and payload."""
    return [
        Delivery(event_id=uuid.uuid4(), event_seq=number, event_type="ticket.created", payload={"seq": number})
        for number in range(count)
    ]


def test_a_chunk_is_sent_in_order_and_ends_after_its_time_with_what_was_attempted(receiver):
    receiver.default = Answer(status=202, delay=0.2)
    deliveries = _deliveries(5)
    attempted = sender().attempts(receiver.url, deliveries, [], for_seconds=0.1)
    assert [each.delivery for each in attempted] == deliveries[:1]  # at least one, then the time was up
    attempted = sender().attempts(receiver.url, deliveries[1:], [], for_seconds=0.3)
    assert [each.delivery for each in attempted] == deliveries[1:3]
    assert [request.headers["webhook-id"] for request in receiver.received] == [str(d.event_id) for d in deliveries[:3]]
    assert all(each.outcome.status_code == 202 for each in attempted)


def test_chunks_of_different_drains_go_out_at_once():
    """One event loop sends every drain's chunk: two slow receivers take the time of one, not of both."""
    slow = [Receiver(), Receiver()]
    for receiver in slow:
        receiver.default = Answer(status=202, delay=0.5)
    started = time.monotonic()
    drains = [
        threading.Thread(target=sender().attempts, args=(receiver.url, _deliveries(2), []), kwargs={"for_seconds": 5})
        for receiver in slow
    ]
    for drain in drains:
        drain.start()
    for drain in drains:
        drain.join()
    assert [len(receiver.received) for receiver in slow] == [2, 2]
    assert time.monotonic() - started < 1.9  # one after the other: 4 x 0.5 s
    for receiver in slow:
        receiver.stop()
