"""Failed images keep their bytes for a while, an admin retries them, and a sweep deletes what expired."""

import html
import re
import uuid
from datetime import timedelta

import django_rq
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts.tests.factories import UserFactory
from tickets.models import Event, Image, ImageStatus, PendingImageData
from tickets.tests.fake_cloudinary import fake_cloudinary, fake_cloudinary_server  # noqa: F401
from tickets.tests.images import png_bytes
from tickets.tests.test_concurrency import run_concurrently
from tickets.tests.test_images import (  # noqa: F401  (fixtures: the same uploads, worker and store as there)
    _quick_retries_and_private_media,
    cloudinary,
    images_url,
    run_jobs,
    run_worker_process,
    ticket,
    upload,
    upload_and_process,
)

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/tickets/image/"
PURGE_SWEEP = "tickets.jobs.purge_expired_failed_image_bytes"


def staff_client() -> Client:
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def retry_through_admin(client: Client, *images: Image):
    """The changelist form as a browser posts it: the action and the ticked rows; answers the page after it."""
    selected = [str(image.pk) for image in images]
    return client.post(CHANGELIST, {"action": "retry_failed_images", "_selected_action": selected}, follow=True)


def admin_messages(response) -> list[str]:
    """The messages as the page shows them (read from the HTML: the test client's captured template
    context is shared by threads, and one test posts from two)."""
    shown = re.search(r'<ul class="messagelist">(.*?)</ul>', response.content.decode(), re.DOTALL)
    return [html.unescape(text) for text in re.findall(r"<li[^>]*>(.*?)</li>", shown.group(1))] if shown else []


def refused_image(team, ticket, cloudinary, django_capture_on_commit_callbacks, name: str = "refused.png") -> Image:  # noqa: F811
    cloudinary.fail_next_uploads(1, status=400, message="Account suspended")
    image = upload_and_process(team, ticket, django_capture_on_commit_callbacks, png_bytes(), name)
    assert image.status == ImageStatus.FAILED
    return image


def fail_long_ago(image: Image) -> None:
    hours = settings.IMAGE_FAILED_RETENTION_HOURS + 1
    Image.objects.filter(pk=image.pk).update(processed_at=timezone.now() - timedelta(hours=hours))


@pytest.mark.django_db(transaction=True)
def test_a_refused_image_keeps_its_bytes_and_an_admin_retry_makes_it_ready(team, ticket, cloudinary):  # noqa: F811
    cloudinary.fail_next_uploads(1, status=400, message="Account suspended")
    response = upload(team.client("member"), ticket, png_bytes(), "refused.png")
    assert response.status_code == 202
    worker = run_worker_process(cloudinary)
    image = Image.objects.get(pk=response.json()["id"])
    assert (image.status, image.attempts) == (ImageStatus.FAILED, 1), worker.stderr[-2000:]
    assert "Account suspended" in image.error
    assert PendingImageData.objects.filter(image_id=image.pk).exists()  # kept for a retry
    assert cloudinary.assets == {}

    staff = staff_client()
    listed = staff.get(CHANGELIST, {"retry": "yes"})
    assert [row.pk for row in listed.context["cl"].result_list] == [image.pk]
    assert "Possible: its uploaded bytes are kept until" in staff.get(f"{CHANGELIST}{image.pk}/change/").text

    page = retry_through_admin(staff, image)
    assert page.status_code == 200
    assert admin_messages(page) == ["Queued 1 failed image for another try."]
    image.refresh_from_db()
    assert (image.status, image.error, image.processed_at) == (ImageStatus.PENDING, "", None)
    assert image.attempts == 1  # numbering goes on, so only the retried run's attempt may finish it

    worker = run_worker_process(cloudinary)  # the store accepts now
    image.refresh_from_db()
    assert image.status == ImageStatus.READY, (image.error, worker.stderr[-2000:])
    assert image.attempts == 2
    assert list(cloudinary.assets) == [str(image.pk)]
    assert not PendingImageData.objects.filter(image_id=image.pk).exists()
    history = team.client("viewer").get(f"/api/v1/tickets/{ticket.key}/history/").json()["results"]
    assert [event["type"] for event in history] == ["image.created", "image.failed", "image.ready"]
    assert history[-1]["data"]["url"] == image.url
    connection.close()


@pytest.mark.django_db(transaction=True)
def test_a_retry_that_fails_again_adds_a_second_failed_event(team, ticket, cloudinary):  # noqa: F811
    cloudinary.fail_next_uploads(2, status=400, message="Account suspended")
    image_id = upload(team.client("member"), ticket, png_bytes()).json()["id"]
    run_worker_process(cloudinary)
    retry_through_admin(staff_client(), Image.objects.get(pk=image_id))
    run_worker_process(cloudinary)
    image = Image.objects.get(pk=image_id)
    assert (image.status, image.attempts) == (ImageStatus.FAILED, 2)
    assert PendingImageData.objects.filter(image_id=image_id).exists()  # still retryable
    history = team.client("viewer").get(f"/api/v1/tickets/{ticket.key}/history/").json()["results"]
    assert [event["type"] for event in history] == ["image.created", "image.failed", "image.failed"]
    connection.close()


def test_the_last_transient_failure_keeps_the_bytes_too(team, ticket, cloudinary, django_capture_on_commit_callbacks):  # noqa: F811
    cloudinary.fail_next_uploads(10, status=503)
    image = upload_and_process(team, ticket, django_capture_on_commit_callbacks, png_bytes())
    assert image.status == ImageStatus.FAILED
    assert PendingImageData.objects.filter(image_id=image.pk).exists()


def test_retry_skips_images_not_failed_or_without_bytes_and_says_why(
    team,
    ticket,  # noqa: F811
    cloudinary,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    ready = upload_and_process(team, ticket, django_capture_on_commit_callbacks, png_bytes(), "ready.png")
    expired = refused_image(team, ticket, cloudinary, django_capture_on_commit_callbacks, "expired.png")
    fail_long_ago(expired)
    import_string(PURGE_SWEEP)()
    retryable = refused_image(team, ticket, cloudinary, django_capture_on_commit_callbacks, "retryable.png")
    before = {image.pk: image for image in Image.objects.filter(pk__in=[ready.pk, expired.pk])}
    staff = staff_client()
    listed = staff.get(CHANGELIST).context["cl"]
    shown = {row.pk: listed.model_admin.retryable(row) for row in listed.result_list}
    assert shown == {ready.pk: False, expired.pk: False, retryable.pk: True}
    assert [row.pk for row in staff.get(CHANGELIST, {"retry": "no"}).context["cl"].result_list] == [expired.pk]
    assert "Not possible: its uploaded bytes were deleted" in staff.get(f"{CHANGELIST}{expired.pk}/change/").text

    with django_capture_on_commit_callbacks(execute=True):
        page = retry_through_admin(staff, ready, expired, retryable)

    assert admin_messages(page) == [
        "Queued 1 failed image for another try.",
        "Skipped 1 image that is not failed (ready, pending or processing).",
        "Skipped 1 failed image whose uploaded bytes were deleted after 168 hours (IMAGE_FAILED_RETENTION_HOURS): "
        "upload it again.",
    ]
    for image_id, old in before.items():
        now = Image.objects.get(pk=image_id)
        assert (now.status, now.error, now.updated_at, now.attempts) == (old.status, old.error, old.updated_at, 1)
    assert django_rq.get_queue("default").count == 1
    run_jobs()
    assert Image.objects.get(pk=retryable.pk).status == ImageStatus.READY
    assert Event.objects.filter(type="image.ready").count() == 2  # the first upload's and the retry's


def test_nothing_to_retry_is_a_warning_only(team, ticket, cloudinary, django_capture_on_commit_callbacks):  # noqa: F811
    ready = upload_and_process(team, ticket, django_capture_on_commit_callbacks, png_bytes())
    page = retry_through_admin(staff_client(), ready)
    assert admin_messages(page) == ["Skipped 1 image that is not failed (ready, pending or processing)."]
    assert django_rq.get_queue("default").count == 0


@pytest.mark.django_db(transaction=True)
def test_two_admins_retrying_at_once_queue_one_job(team, ticket, cloudinary):  # noqa: F811
    cloudinary.fail_next_uploads(1, status=400)
    image_id = upload(team.client("member"), ticket, png_bytes()).json()["id"]
    run_jobs()
    admins = [staff_client(), staff_client()]
    image = Image.objects.get(pk=image_id)
    assert image.status == ImageStatus.FAILED

    pages = run_concurrently(
        [lambda: retry_through_admin(admins[0], image), lambda: retry_through_admin(admins[1], image)],  # type: ignore[list-item]
        queued_behind=Image.objects.filter(pk=image_id),
    )

    said = sorted(admin_messages(page)[0] for page in pages)  # type: ignore[arg-type]
    assert said == [
        "Queued 1 failed image for another try.",
        "Skipped 1 image that is not failed (ready, pending or processing).",
    ]
    assert django_rq.get_queue("default").count == 1
    connection.close()


def test_the_sweep_deletes_only_the_bytes_of_images_failed_before_the_retention(
    team,
    ticket,  # noqa: F811
    cloudinary,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    assert PURGE_SWEEP in settings.WORKER_PERIODIC_TASKS  # the worker runs it with the other sweeps
    old = refused_image(team, ticket, cloudinary, django_capture_on_commit_callbacks, "old.png")
    fail_long_ago(old)
    recent = refused_image(team, ticket, cloudinary, django_capture_on_commit_callbacks, "recent.png")
    Image.objects.filter(pk=recent.pk).update(processed_at=timezone.now() - timedelta(hours=1))
    waiting = upload(team.client("member"), ticket, png_bytes(), "waiting.png").json()["id"]  # job not run
    Image.objects.filter(pk=waiting).update(created_at=timezone.now() - timedelta(days=30))

    import_string(PURGE_SWEEP)()

    assert set(PendingImageData.objects.values_list("image_id", flat=True)) == {recent.pk, uuid.UUID(waiting)}
    error = old.error
    old.refresh_from_db()
    assert (old.status, old.error) == (ImageStatus.FAILED, error)  # the image the API shows is unchanged


def test_deleting_a_failed_image_deletes_its_kept_bytes(team, ticket, cloudinary, django_capture_on_commit_callbacks):  # noqa: F811
    image = refused_image(team, ticket, cloudinary, django_capture_on_commit_callbacks)
    assert PendingImageData.objects.filter(image_id=image.pk).exists()
    response = team.client("member").delete(f"{images_url(ticket)}{image.pk}/")
    assert response.status_code == 204
    assert not PendingImageData.objects.exists()
