"""The webhook and delivery admin: lists, filters and search load; no page shows a secret; edits go
through webhook_update with the API's checks; "Redeliver selected" goes through delivery_redeliver."""

import pytest
from django.test import Client

from accounts.tests.factories import UserFactory
from tickets.tests.browser_forms import submit
from webhooks.models import Delivery, DeliveryStatus, Webhook
from webhooks.secrets import secret_generate
from webhooks.tests.test_api import make_delivery, make_webhook

pytestmark = pytest.mark.django_db

ADMIN = "/admin/webhooks"


@pytest.fixture
def browser(db) -> Client:  # type: ignore[no-untyped-def]
    client = Client(enforce_csrf_checks=True)  # the forms' own CSRF tokens are posted back
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def webhook(team) -> Webhook:  # type: ignore[no-untyped-def]
    webhook = make_webhook(team.project, created_by=team.admin, description="CI")
    webhook.previous_secret = secret_generate()
    webhook.save()
    return webhook


@pytest.mark.parametrize(
    "path",
    [
        "/webhook/",
        "/webhook/?active__exact=1",
        "/webhook/?q=127.0.0.1",
        "/webhook/?project__id__exact={project}",
        "/webhook/{webhook}/change/",
        "/webhook/{webhook}/history/",
        "/delivery/",
        "/delivery/?status__exact=failed",
        "/delivery/?webhook__id__exact={webhook}",
        "/delivery/?q=127.0.0.1",
        "/delivery/{delivery}/change/",
    ],
)
def test_the_pages_load_and_never_show_a_secret(browser, webhook, path):
    delivery = make_delivery(webhook, status=DeliveryStatus.FAILED)

    response = browser.get(ADMIN + path.format(project=webhook.project_id, webhook=webhook.pk, delivery=delivery.pk))

    assert response.status_code == 200
    page = response.content.decode()
    assert webhook.secret not in page
    assert webhook.previous_secret not in page
    assert "whsec_" not in page


def test_webhooks_are_not_added_here(browser, webhook):
    assert browser.get(f"{ADMIN}/webhook/add/").status_code == 403


def test_an_edit_goes_through_the_update_service(browser, webhook):
    webhook.active = False
    webhook.disabled_reason = "15 deliveries failed in a row."
    webhook.save()

    response = submit(
        browser,
        f"{ADMIN}/webhook/{webhook.pk}/change/",
        {"active": "on", "description": "Chat", "_save": "Save"},
        form_id="webhook_form",
    )

    assert response.status_code == 302, response.content.decode()
    webhook.refresh_from_db()
    assert (webhook.active, webhook.description, webhook.disabled_reason) == (True, "Chat", "")


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"url": "https://10.0.0.8/hook"}, "url", "private address"),
        ({"events": '["ticket.exploded"]'}, "events", "Unknown event type(s): ticket.exploded"),
    ],
)
def test_a_refused_edit_shows_on_its_field_and_changes_nothing(browser, webhook, changes, field, message):
    before = Webhook.objects.values().get(pk=webhook.pk)

    response = submit(
        browser, f"{ADMIN}/webhook/{webhook.pk}/change/", {**changes, "_save": "Save"}, form_id="webhook_form"
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message in " ".join(errors[field])
    assert Webhook.objects.values().get(pk=webhook.pk) == before


def test_deleting_a_webhook_goes_through_the_service(browser, webhook):
    make_delivery(webhook)

    response = submit(browser, f"{ADMIN}/webhook/{webhook.pk}/delete/", {}, form_id=None)

    assert response.status_code == 302
    assert not Webhook.objects.exists()
    assert not Delivery.objects.exists()


def test_redeliver_selected_queues_the_finished_and_skips_the_pending(browser, webhook):
    failed = make_delivery(webhook, status=DeliveryStatus.FAILED)
    succeeded = make_delivery(webhook, status=DeliveryStatus.SUCCEEDED)
    pending = make_delivery(webhook)
    selected = [str(delivery.pk) for delivery in (failed, succeeded, pending)]

    response = submit(
        browser,
        f"{ADMIN}/delivery/",
        {"action": "redeliver_selected", "_selected_action": selected},
        form_id="changelist-form",
    )

    assert response.status_code == 302
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.PENDING}
    page = browser.get(response["Location"]).content.decode()
    assert "Queued 2 deliveries again." in page
    assert "Skipped 1 delivery that is still pending." in page


def test_deliveries_are_not_added_changed_or_deleted_here(browser, webhook):
    delivery = make_delivery(webhook, status=DeliveryStatus.FAILED)
    before = Delivery.objects.values().get(pk=delivery.pk)

    assert browser.get(f"{ADMIN}/delivery/add/").status_code == 403
    assert browser.post(f"{ADMIN}/delivery/{delivery.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Delivery.objects.values().get(pk=delivery.pk) == before
