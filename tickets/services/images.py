"""Image writes: the upload (validated, bytes parked in the database), the storing job, deletion, recovery.

An image moves pending → processing → ready (or failed). The web request never talks to the store;
the job does, and is safe to run twice: the store keys the asset by the image id. A failed image
keeps its bytes for `IMAGE_FAILED_RETENTION_HOURS`, so an admin can send it back to pending.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from hopla.jobs import enqueue, is_last_attempt
from tickets.image_processing import strip_metadata
from tickets.image_storage import PermanentStoreError, StoredImage, delete_stored_image, store_image
from tickets.image_validation import ValidImage
from tickets.models import EventType, Image, ImageStatus, PendingImageData, Ticket
from tickets.serializers import ImageSerializer
from tickets.services.event_writing import event_record

logger = logging.getLogger("hopla.jobs")


def _image_data(image: Image) -> dict[str, Any]:
    return dict(ImageSerializer(image).data)


def _bump_image_count(ticket_id: Any, delta: int) -> None:
    Ticket.objects.filter(pk=ticket_id).update(image_count=F("image_count") + delta)


def _enqueue_processing(image_id: Any) -> None:
    enqueue("tickets.jobs.process_image", str(image_id), retry_intervals=settings.IMAGE_RETRY_INTERVALS)


@transaction.atomic
def image_upload(*, ticket: Ticket, uploader: User, upload: ValidImage, filename: str) -> Image:
    """Create the pending image with its bytes; the storing job is queued once this commits."""
    image = Image.objects.create(
        ticket=ticket,
        uploaded_by=uploader,
        original_filename=filename,
        content_type=upload.content_type,
        format=upload.format,
    )
    PendingImageData.objects.create(image=image, data=upload.data)
    _bump_image_count(ticket.pk, +1)
    event_record(
        type=EventType.IMAGE_CREATED,
        project_id=ticket.project_id,
        ticket_id=ticket.pk,
        actor=uploader,
        data=_image_data(image),
    )
    transaction.on_commit(lambda: _enqueue_processing(image.pk))
    return image


def image_process(*, image_id: Any) -> None:
    """The job's work: store the image, then mark it ready; on failure retry or mark it failed."""
    claim = _claim(image_id)
    if claim is None:
        return
    data, attempt = claim
    try:
        prepared = strip_metadata(data)
        stored = store_image(image_id, prepared)
    except PermanentStoreError as error:
        _finish_failed(image_id, attempt, str(error))
        return
    except Exception as error:
        if is_last_attempt():
            _finish_failed(image_id, attempt, f"Gave up after repeated failures: {error}")
            return
        _note_retry(image_id, attempt, str(error))
        raise  # RQ schedules the next try
    _finish_ready(image_id, attempt, stored)


@transaction.atomic
def _claim(image_id: Any) -> tuple[bytes, int] | None:
    """Mark the image processing and hand out its bytes with the attempt number; None when there is
    nothing (left) to do. Only the latest attempt may finish: a job that outlived its worker (and
    was taken over by the sweep) must not record the image a second time."""
    image = Image.objects.select_for_update(no_key=True).filter(pk=image_id).first()
    if image is None or image.status in (ImageStatus.READY, ImageStatus.FAILED):
        return None  # deleted meanwhile, or a duplicate run after the work was done
    pending = PendingImageData.objects.filter(image_id=image_id).first()
    if pending is None:
        return None
    image.status = ImageStatus.PROCESSING
    image.attempts += 1
    image.save(update_fields=["status", "attempts", "updated_at"])
    return bytes(pending.data), image.attempts


def _lock_if_current(image_id: Any, attempt: int) -> Image | None:
    """The image, locked, if `attempt` is still the one processing it."""
    image = (
        Image.objects.select_for_update(no_key=True, of=("self",)).select_related("ticket").filter(pk=image_id).first()
    )
    if image is None or image.status != ImageStatus.PROCESSING or image.attempts != attempt:
        return None
    return image


@transaction.atomic
def _note_retry(image_id: Any, attempt: int, error: str) -> None:
    Image.objects.filter(pk=image_id, status=ImageStatus.PROCESSING, attempts=attempt).update(
        status=ImageStatus.PENDING, error=f"Attempt failed, will retry: {error}", updated_at=timezone.now()
    )


@transaction.atomic
def _finish_ready(image_id: Any, attempt: int, stored: StoredImage) -> None:
    if not Image.objects.filter(pk=image_id).exists():
        # Deleted while it was being stored: what was stored must not outlive it.
        images_destroy_after_commit([image_id])
        return
    image = _lock_if_current(image_id, attempt)
    if image is None:
        return  # a later attempt owns the image now; the store holds one asset under its id either way
    image.status = ImageStatus.READY
    image.url = stored.url
    image.thumbnail_url = stored.thumbnail_url
    image.width, image.height = stored.width, stored.height
    image.bytes = stored.bytes
    image.format = stored.format
    image.error = ""
    image.processed_at = timezone.now()
    image.save()
    PendingImageData.objects.filter(image_id=image_id).delete()
    event_record(
        type=EventType.IMAGE_READY,
        project_id=image.ticket.project_id,
        ticket_id=image.ticket_id,
        actor=None,
        data=_image_data(image),
    )


@transaction.atomic
def _finish_failed(image_id: Any, attempt: int, error: str) -> None:
    image = _lock_if_current(image_id, attempt)
    if image is None:
        return
    image.status = ImageStatus.FAILED
    image.error = error[:2000]
    image.processed_at = timezone.now()
    image.save()
    # The bytes stay (until `images_purge_expired_failed_bytes`) so that `images_retry_failed` can
    # try again once the cause (a store outage, a refused account) is fixed.
    logger.warning("image failed", extra={"fields": {"image": str(image_id), "error": image.error}})
    event_record(
        type=EventType.IMAGE_FAILED,
        project_id=image.ticket.project_id,
        ticket_id=image.ticket_id,
        actor=None,
        data=_image_data(image),
    )


@transaction.atomic
def image_delete(*, image: Image, actor: User) -> None:
    """Delete the row now and the stored asset by a job (retried) once that commits."""
    data = _image_data(image)
    ticket = image.ticket
    image.delete()
    _bump_image_count(ticket.pk, -1)
    event_record(
        type=EventType.IMAGE_DELETED, project_id=ticket.project_id, ticket_id=ticket.pk, actor=actor, data=data
    )
    images_destroy_after_commit([data["id"]])


def image_destroy_asset(*, image_id: Any) -> None:
    delete_stored_image(image_id)


# How many stored images one job destroys: a project's deletion queues a job per batch, not per image.
DESTROY_BATCH_SIZE = 100


def images_destroy_after_commit(image_ids: Iterable[Any]) -> None:
    """The stored assets of deleted images (alone, or with their ticket or project): destroyed by jobs
    (retried; destroying what is already gone is not an error) once the deletion commits. An image
    still being stored then is destroyed by its own job (_finish_ready)."""
    ids = [str(image_id) for image_id in image_ids]

    def enqueue_batches() -> None:
        for start in range(0, len(ids), DESTROY_BATCH_SIZE):
            batch = ids[start : start + DESTROY_BATCH_SIZE]
            enqueue("tickets.jobs.destroy_image_assets", batch, retry_intervals=settings.IMAGE_RETRY_INTERVALS)

    if ids:
        transaction.on_commit(enqueue_batches)


def images_requeue_stuck(*, older_than: timedelta | None = None) -> list[str]:
    """Queue again the images a dead worker (or a Redis outage at upload) left pending or processing."""
    age = older_than if older_than is not None else timedelta(seconds=settings.IMAGE_STUCK_AFTER_SECONDS)
    stuck = list(
        Image.objects.filter(
            status__in=[ImageStatus.PENDING, ImageStatus.PROCESSING], updated_at__lt=timezone.now() - age
        ).values_list("pk", flat=True)
    )
    for image_id in stuck:
        Image.objects.filter(pk=image_id).update(updated_at=timezone.now())  # not again until it is stuck again
        _enqueue_processing(image_id)
    return [str(image_id) for image_id in stuck]


def _failed_bytes_expire_before() -> datetime:
    """Images that failed before this moment have had their bytes deleted (or will at the next sweep)."""
    return timezone.now() - timedelta(hours=settings.IMAGE_FAILED_RETENTION_HOURS)


@transaction.atomic
def images_purge_expired_failed_bytes() -> list[str]:
    """Delete the kept bytes of images failed for longer than `IMAGE_FAILED_RETENTION_HOURS`.

    The images are locked like `images_retry_failed` locks them, so a retry and this sweep never
    interleave: a retried image is no longer failed here, a purged one has no bytes left there.
    """
    expired = list(
        Image.objects.select_for_update(no_key=True, skip_locked=True, of=("self",))
        .filter(status=ImageStatus.FAILED, processed_at__lt=_failed_bytes_expire_before(), pending_data__isnull=False)
        .values_list("pk", flat=True)
    )
    PendingImageData.objects.filter(image_id__in=expired).delete()
    return [str(image_id) for image_id in expired]


@dataclass
class ImageRetryOutcome:
    """What `images_retry_failed` did with each image it was given, by image id."""

    queued: list[str] = field(default_factory=list)
    not_failed: list[str] = field(default_factory=list)
    bytes_gone: list[str] = field(default_factory=list)


@transaction.atomic
def images_retry_failed(*, image_ids: Iterable[Any], actor: User) -> ImageRetryOutcome:
    """Send failed images whose bytes are still kept back to pending and queue their job again.

    Others are skipped: not failed (ready, or already retried by someone else: the row lock makes a
    second concurrent retry see `pending` and queue nothing), or failed with their bytes purged.
    `attempts` is not reset: the job lets only the latest attempt finish an image, so numbering on
    keeps a straggler of the earlier run from finishing (or failing) the retried image.
    No event is written here (SPEC §7 has no such type); the job writes `image.ready` or
    `image.failed` when it is done, as after an upload.
    """
    images = list(
        Image.objects.select_for_update(no_key=True).filter(pk__in=list(image_ids)).order_by("pk")  # one lock order
    )
    kept = set(
        PendingImageData.objects.filter(
            image_id__in=[image.pk for image in images if image.status == ImageStatus.FAILED]
        ).values_list("image_id", flat=True)
    )
    outcome = ImageRetryOutcome()
    for image in images:
        if image.status != ImageStatus.FAILED:
            outcome.not_failed.append(str(image.pk))
        elif image.pk not in kept:
            outcome.bytes_gone.append(str(image.pk))
        else:
            outcome.queued.append(str(image.pk))
            transaction.on_commit(partial(_enqueue_processing, image.pk))
    Image.objects.filter(pk__in=outcome.queued).update(
        status=ImageStatus.PENDING, error="", processed_at=None, updated_at=timezone.now()
    )
    if outcome.queued:
        logger.info("failed images retried", extra={"fields": {"images": outcome.queued, "actor": str(actor.pk)}})
    return outcome
