"""RQ jobs of the tickets app. Each takes an id, loads the row and calls a service."""

import logging

from tickets.services import images, imports, invitations
from tickets.services.event_sweep import events_republish

logger = logging.getLogger("hopla.jobs")


def process_image(image_id: str) -> None:
    """Store an uploaded image (queue `default`); raising makes RQ retry it per its `Retry`."""
    logger.info("image job started", extra={"fields": {"job": "process_image", "image": image_id}})
    images.image_process(image_id=image_id)
    logger.info("image job finished", extra={"fields": {"job": "process_image", "image": image_id}})


def destroy_image_assets(image_ids: list[str]) -> None:
    """Remove the stored assets (Cloudinary or local disk) of deleted images; a retry starts over."""
    for image_id in image_ids:
        images.image_destroy_asset(image_id=image_id)
    logger.info("image assets destroyed", extra={"fields": {"job": "destroy_image_assets", "images": len(image_ids)}})


def requeue_stuck_images() -> None:
    """Periodic sweep run by the worker (hopla.worker): queue again images left pending or processing."""
    requeued = images.images_requeue_stuck()
    if requeued:
        logger.warning("stuck images requeued", extra={"fields": {"job": "requeue_stuck_images", "images": requeued}})


def purge_expired_failed_image_bytes() -> None:
    """Periodic sweep run by the worker: delete the bytes failed images kept past their retention."""
    purged = images.images_purge_expired_failed_bytes()
    if purged:
        logger.info(
            "failed image bytes purged", extra={"fields": {"job": "purge_expired_failed_image_bytes", "images": purged}}
        )


def republish_events() -> None:
    """Periodic sweep run by the worker: push again the events the channel layer never took."""
    published = events_republish()
    if published:
        logger.warning("events republished", extra={"fields": {"job": "republish_events", "count": published}})


def run_import(import_id: str) -> None:
    """Read and write an uploaded import file (queue `default`); a second run of a finished one does nothing."""
    logger.info("import job started", extra={"fields": {"job": "run_import", "import": import_id}})
    imports.import_run(import_id=import_id)


def send_invitation_email(invitation_id: str) -> None:
    """Email an invitation's link (queue `default`); raising makes RQ retry it per its `Retry`."""
    invitations.invitation_email_send(invitation_id=invitation_id)
