"""Images end to end: validated upload, the storing job (RQ on real Redis), local disk and Cloudinary."""

import io
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import django_rq
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from PIL import Image as PillowImage
from rq import SimpleWorker

from tickets.models import Event, Image, ImageStatus, PendingImageData, Role, Ticket
from tickets.tests.factories import MembershipFactory, TicketFactory
from tickets.tests.fake_cloudinary import fake_cloudinary, fake_cloudinary_server  # noqa: F401
from tickets.tests.images import has_gps, image_bytes, png_bytes, png_header_claiming

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ticket(team) -> Ticket:
    return TicketFactory(project=team.project, reporter=team.member)


@pytest.fixture(autouse=True)
def _quick_retries_and_private_media(settings, tmp_path):
    settings.IMAGE_RETRY_INTERVALS = [0, 0, 0]  # retries re-enqueue at once; no scheduler needed
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CLOUDINARY_URL = ""


@pytest.fixture
def cloudinary(settings, fake_cloudinary):  # noqa: F811
    settings.CLOUDINARY_URL = fake_cloudinary.cloudinary_url
    return fake_cloudinary


def images_url(ticket) -> str:
    return f"/api/v1/tickets/{ticket.key}/images/"


def upload(client, ticket, data: bytes, name: str = "photo.png", field: str = "image"):
    # The declared type is deliberately wrong: hopla judges the content, never the name or the type.
    upload_file = SimpleUploadedFile(name, data, content_type="application/octet-stream")
    return client.post(images_url(ticket), {field: upload_file}, format="multipart")


def run_jobs() -> None:
    """Drain the `default` queue with a real RQ worker in this process (it shares the test transaction)."""
    queue = django_rq.get_queue("default")
    SimpleWorker([queue], connection=queue.connection).work(burst=True)


def upload_and_process(team, ticket, django_capture_on_commit_callbacks, data: bytes, name: str = "photo.png"):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(team.client("member"), ticket, data, name)
    assert response.status_code == 202, response.json()
    run_jobs()
    return Image.objects.get(pk=response.json()["id"])


def test_upload_answers_202_pending_and_never_calls_the_store(team, ticket, cloudinary):
    response = upload(team.client("member"), ticket, png_bytes(), "../../etc/passwd\x00.png")
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {
        "id", "ticket", "status", "original_filename", "content_type", "bytes", "width", "height",
        "format", "url", "thumbnail_url", "error", "uploaded_by", "created_at", "processed_at",
    }  # fmt: skip
    assert (body["status"], body["content_type"], body["format"]) == ("pending", "image/png", "png")
    assert body["original_filename"] == "passwd.png"  # no directories, no NUL
    assert body["uploaded_by"]["id"] == str(team.member.id)
    assert cloudinary.upload_attempts == 0
    assert PendingImageData.objects.filter(image_id=body["id"]).exists()
    ticket.refresh_from_db()
    assert ticket.image_count == 1
    assert Event.objects.get(type="image.created").data["id"] == body["id"]


def test_local_storage_job_makes_the_image_ready_and_serves_it(team, ticket, django_capture_on_commit_callbacks):
    image = upload_and_process(team, ticket, django_capture_on_commit_callbacks, png_bytes((300, 200)))
    assert image.status == ImageStatus.READY
    assert (image.width, image.height, image.format) == (300, 200, "png")
    assert image.url == f"/media/images/{image.id}.png"
    assert not PendingImageData.objects.filter(image_id=image.id).exists()

    client = team.client("viewer")
    body = client.get(f"{images_url(ticket)}{image.id}/").json()
    assert body["status"] == "ready"
    assert body["url"] == f"http://testserver/media/images/{image.id}.png"
    served = client.get(f"/media/images/{image.id}.png")
    assert served.status_code == 200
    assert b"".join(served.streaming_content)[:8] == b"\x89PNG\r\n\x1a\n"
    thumbnail = b"".join(client.get(image.thumbnail_url).streaming_content)
    with PillowImage.open(io.BytesIO(thumbnail)) as picture:
        assert max(picture.size) == settings.IMAGE_THUMBNAIL_SIZE
    ready = Event.objects.get(type="image.ready")
    assert ready.data["status"] == "ready"
    assert ready.data["url"] == image.url


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "WEBP"])
def test_exif_gps_never_reaches_the_store(team, ticket, cloudinary, django_capture_on_commit_callbacks, image_format):
    original = image_bytes(image_format, gps=True)
    assert has_gps(original)
    image = upload_and_process(team, ticket, django_capture_on_commit_callbacks, original)
    assert image.status == ImageStatus.READY
    (stored,) = cloudinary.assets.values()
    assert not has_gps(stored.data)


def test_exif_gps_is_stripped_on_local_storage_too(team, ticket, django_capture_on_commit_callbacks):
    image = upload_and_process(team, ticket, django_capture_on_commit_callbacks, image_bytes("JPEG", gps=True))
    stored = Path(settings.MEDIA_ROOT, "images", f"{image.id}.jpg").read_bytes()
    assert not has_gps(stored)


def test_cloudinary_job_fills_the_image_from_the_upload(team, ticket, cloudinary, django_capture_on_commit_callbacks):
    image = upload_and_process(team, ticket, django_capture_on_commit_callbacks, image_bytes("JPEG", (640, 480)))
    assert image.status == ImageStatus.READY
    (upload_record,) = cloudinary.uploads
    assert upload_record.public_id == str(image.id)
    asset = cloudinary.assets[str(image.id)]
    assert image.url == asset_url(cloudinary, asset)
    assert (image.width, image.height, image.bytes, image.format) == (640, 480, asset.bytes, "jpeg")
    assert "c_fill" in image.thumbnail_url
    assert str(image.id) in image.thumbnail_url


def asset_url(cloudinary, asset) -> str:
    return cloudinary._asset_json(asset)["secure_url"]  # what the fake answered for this asset


def test_running_the_job_twice_uploads_once(team, ticket, cloudinary, django_capture_on_commit_callbacks):
    image = upload_and_process(team, ticket, django_capture_on_commit_callbacks, png_bytes())
    from tickets.jobs import process_image

    process_image(str(image.id))
    assert cloudinary.upload_attempts == 1
    assert len(cloudinary.assets) == 1


def test_two_transient_failures_then_ready(team, ticket, cloudinary, django_capture_on_commit_callbacks):
    cloudinary.fail_next_uploads(2, status=503)
    image = upload_and_process(team, ticket, django_capture_on_commit_callbacks, png_bytes())
    assert image.status == ImageStatus.READY
    assert image.attempts == 3
    assert cloudinary.upload_attempts == 3
    assert len(cloudinary.assets) == 1
    assert image.error == ""


def test_failing_every_try_ends_failed_with_a_readable_error(
    team, ticket, cloudinary, django_capture_on_commit_callbacks
):
    cloudinary.fail_next_uploads(10, status=502)
    image = upload_and_process(team, ticket, django_capture_on_commit_callbacks, png_bytes())
    assert image.status == ImageStatus.FAILED
    assert image.attempts == 1 + len(settings.IMAGE_RETRY_INTERVALS)
    assert "Gave up after repeated failures" in image.error
    assert PendingImageData.objects.filter(image_id=image.id).exists()  # kept for a retry (test_image_retry.py)
    failed = Event.objects.get(type="image.failed")
    assert failed.data["error"] == image.error


def test_a_refusal_by_the_store_fails_at_once(team, ticket, cloudinary, django_capture_on_commit_callbacks):
    cloudinary.fail_next_uploads(1, status=400, message="Invalid image file")
    image = upload_and_process(team, ticket, django_capture_on_commit_callbacks, png_bytes())
    assert image.status == ImageStatus.FAILED
    assert image.attempts == 1
    assert "Invalid image file" in image.error


def test_delete_removes_the_row_and_the_cloudinary_asset(team, ticket, cloudinary, django_capture_on_commit_callbacks):
    image = upload_and_process(team, ticket, django_capture_on_commit_callbacks, png_bytes())
    cloudinary.fail_next_destroys(1, status=503)
    with django_capture_on_commit_callbacks(execute=True):
        response = team.client("member").delete(f"{images_url(ticket)}{image.id}/")
    assert response.status_code == 204
    assert not Image.objects.filter(pk=image.id).exists()
    run_jobs()
    assert cloudinary.assets == {}
    assert cloudinary.destroy_attempts == 2
    ticket.refresh_from_db()
    assert ticket.image_count == 0
    assert Event.objects.get(type="image.deleted").data["id"] == str(image.id)


def test_delete_removes_local_files(team, ticket, django_capture_on_commit_callbacks):
    image = upload_and_process(team, ticket, django_capture_on_commit_callbacks, png_bytes())
    assert list(Path(settings.MEDIA_ROOT, "images").iterdir())
    with django_capture_on_commit_callbacks(execute=True):
        assert team.client("admin").delete(f"{images_url(ticket)}{image.id}/").status_code == 204
    run_jobs()
    assert list(Path(settings.MEDIA_ROOT, "images").iterdir()) == []


def test_deleting_a_ticket_destroys_its_stored_images(team, ticket, cloudinary, django_capture_on_commit_callbacks):
    kept = TicketFactory(project=team.project)
    upload_and_process(team, ticket, django_capture_on_commit_callbacks, png_bytes())
    upload_and_process(team, ticket, django_capture_on_commit_callbacks, image_bytes())
    other = upload_and_process(team, kept, django_capture_on_commit_callbacks, png_bytes())
    assert len(cloudinary.assets) == 3
    cloudinary.fail_next_destroys(1, status=503)  # the job is retried
    with django_capture_on_commit_callbacks(execute=True):
        assert team.client("admin").delete(f"/api/v1/tickets/{ticket.key}/").status_code == 204
    run_jobs()
    assert set(cloudinary.assets) == {str(other.id)}
    assert not Image.objects.filter(ticket_id=ticket.pk).exists()


def test_deleting_a_ticket_removes_its_local_files(team, ticket, django_capture_on_commit_callbacks):
    upload_and_process(team, ticket, django_capture_on_commit_callbacks, png_bytes())
    assert list(Path(settings.MEDIA_ROOT, "images").iterdir())
    with django_capture_on_commit_callbacks(execute=True):
        assert team.client("admin").delete(f"/api/v1/tickets/{ticket.key}/").status_code == 204
    run_jobs()
    assert list(Path(settings.MEDIA_ROOT, "images").iterdir()) == []


def test_deleting_a_project_destroys_the_stored_images_of_all_its_tickets(
    team, ticket, cloudinary, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr("tickets.services.images.DESTROY_BATCH_SIZE", 2)  # three images: two jobs
    second = TicketFactory(project=team.project)
    for target in (ticket, ticket, second):
        upload_and_process(team, target, django_capture_on_commit_callbacks, png_bytes())
    elsewhere = TicketFactory()  # another project's image stays
    MembershipFactory(project=elsewhere.project, user=team.member, role=Role.MEMBER)
    kept = upload_and_process(team, elsewhere, django_capture_on_commit_callbacks, png_bytes())
    assert len(cloudinary.assets) == 4
    with django_capture_on_commit_callbacks(execute=True):
        assert team.client("admin").delete(f"/api/v1/projects/{team.project.key}/").status_code == 204
    assert len(django_rq.get_queue("default").get_job_ids()) == 2
    run_jobs()
    assert list(cloudinary.assets) == [str(kept.id)]


def test_only_the_uploader_or_an_admin_deletes(team, ticket):
    image_id = upload(team.client("admin"), ticket, png_bytes()).json()["id"]
    assert team.client("member").delete(f"{images_url(ticket)}{image_id}/").status_code == 403
    assert team.client("viewer").post(images_url(ticket), {}, format="multipart").status_code == 403


def _truncated(data: bytes) -> bytes:
    return data[: len(data) * 2 // 3]


@pytest.mark.parametrize(
    ("data", "name", "code"),
    [
        (b"just some text, honestly", "notes.png", "unsupported_type"),
        (b"%PDF-1.4 not an image", "doc.jpg", "unsupported_type"),
        (image_bytes("BMP"), "old.bmp", "unsupported_type"),
        (image_bytes("TIFF"), "scan.tiff", "unsupported_type"),
        (_truncated(image_bytes("PNG", (400, 400))), "cut.png", "corrupt_image"),
        (_truncated(image_bytes("JPEG", (400, 400))), "cut.jpg", "corrupt_image"),
        (png_header_claiming(30_000, 30_000), "bomb.png", "too_many_pixels"),
        (png_header_claiming(7_000, 7_000), "big.png", "too_many_pixels"),
        (b"", "empty.png", "corrupt_image"),
    ],
    ids=["text", "pdf", "bmp", "tiff", "truncated-png", "truncated-jpeg", "bomb-30000", "over-40mp", "empty"],
)
def test_uploads_are_judged_by_content(team, ticket, data, name, code):
    response = upload(team.client("member"), ticket, data, name)
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["errors"]["image"][0]["code"] == code
    assert not Image.objects.exists()
    assert not Event.objects.exists()


def test_an_image_over_the_byte_limit_is_too_large(team, ticket, settings):
    settings.IMAGE_MAX_BYTES = 100
    response = upload(team.client("member"), ticket, image_bytes("PNG", (300, 300)))
    assert response.status_code == 400
    assert response.json()["errors"]["image"][0]["code"] == "too_large"


@pytest.mark.parametrize("field", [None, "file"])
def test_a_missing_or_misnamed_field_is_required(team, ticket, field):
    client = team.client("member")
    if field is None:
        response = client.post(images_url(ticket), {"note": "no file"}, format="multipart")
    else:
        response = upload(client, ticket, png_bytes(), field=field)
    assert response.status_code == 400
    assert response.json()["errors"]["image"][0]["code"] == "required"


def test_json_is_not_an_upload(team, ticket):
    response = team.client("member").post(images_url(ticket), {"image": "aGVsbG8="}, format="json")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_embedded_default_runs_the_job_in_process(team, ticket, settings, django_capture_on_commit_callbacks):
    settings.REDIS_URL = ""
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(team.client("member"), ticket, png_bytes())
    assert response.json()["status"] == "pending"
    assert Image.objects.get(pk=response.json()["id"]).status == ImageStatus.READY


def test_stuck_images_are_requeued(team, ticket, cloudinary, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # Redis unreachable at upload: nothing is queued
    response = upload(team.client("member"), ticket, png_bytes())
    assert response.status_code == 202
    settings.REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    Image.objects.update(updated_at=timezone.now() - timedelta(hours=1))
    output = io.StringIO()
    call_command("requeue_stuck_images", "--older-than", "600", stdout=output)
    assert "Re-enqueued 1 image(s)." in output.getvalue()
    run_jobs()
    assert Image.objects.get().status == ImageStatus.READY
    assert cloudinary.upload_attempts == 1


def run_worker_process(cloudinary, *extra: str, **environment: str) -> subprocess.CompletedProcess[str]:
    """`manage.py rqworker --burst default` as its own process, on this test's database and Redis."""
    database = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "hopla.settings.test",
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CLOUDINARY_URL": cloudinary.cloudinary_url,
        "IMAGE_RETRY_INTERVALS": "0,0",
        **environment,
    }
    worker = subprocess.run(
        [sys.executable, "manage.py", "rqworker", "--burst", "default", *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.returncode == 0, worker.stderr
    return worker


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_process_makes_the_image_ready(team, ticket, cloudinary):
    response = upload(team.client("member"), ticket, image_bytes("JPEG", (800, 600), gps=True), "holiday.jpg")
    assert response.status_code == 202
    worker = run_worker_process(cloudinary)
    image = Image.objects.get(pk=response.json()["id"])
    assert image.status == ImageStatus.READY, (image.error, worker.stderr[-2000:])
    assert len(cloudinary.uploads) == 1
    assert not has_gps(cloudinary.assets[str(image.id)].data)
    connection.close()


@pytest.mark.django_db(transaction=True)
def test_the_worker_sweep_recovers_an_image_whose_job_was_lost(team, ticket, cloudinary):
    response = upload(team.client("member"), ticket, png_bytes(), "lost.png")
    assert response.status_code == 202
    django_rq.get_queue("default").connection.flushdb()  # Redis restarted empty: the queued job is gone
    Image.objects.update(updated_at=timezone.now() - timedelta(minutes=5))
    worker = run_worker_process(
        cloudinary, "--worker-class", "hopla.worker.PeriodicTasksWorker", IMAGE_STUCK_AFTER_SECONDS="60"
    )
    image = Image.objects.get(pk=response.json()["id"])
    assert image.status == ImageStatus.READY, (image.error, worker.stderr[-2000:])
    assert "stuck images requeued" in worker.stderr
    assert len(cloudinary.uploads) == 1
    connection.close()
