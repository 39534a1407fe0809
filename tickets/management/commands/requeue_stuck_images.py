"""Re-enqueue images left pending or processing (a worker died, or Redis was down at upload)."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from tickets.services.images import images_requeue_stuck


class Command(BaseCommand):
    help = "Queue again the storing job of images stuck in pending/processing for longer than a threshold."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            default=settings.IMAGE_STUCK_AFTER_SECONDS,
            help="Seconds since the image last changed (default: IMAGE_STUCK_AFTER_SECONDS).",
        )

    def handle(self, *args: Any, older_than: int, **options: Any) -> None:
        requeued = images_requeue_stuck(older_than=timedelta(seconds=older_than))
        self.stdout.write(f"Re-enqueued {len(requeued)} image(s).")
        for image_id in requeued:
            self.stdout.write(f"  {image_id}")
