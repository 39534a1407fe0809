"""The kept outcome of a POST sent with an Idempotency-Key, per user and key."""

import uuid

from django.conf import settings
from django.db import models


class KeyStatus(models.TextChoices):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class IdempotencyKey(models.Model):
    """One user's key: the request it was first sent with (its fingerprint) and, once answered, the answer.

    The row is written before the request runs (insert-first): the unique (user, key) pair is what keeps
    a second request with the key from running beside the first.
    """

    # A new id each time a key is claimed (again, once expired): the claimer records by it, so a
    # request that lost its claim can never overwrite the next claimer's answer.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, db_index=False)
    key = models.CharField(max_length=255)
    # SHA-256 of method, path and body (for multipart bodies: the fields and the files' bytes).
    fingerprint = models.CharField(max_length=64)
    status = models.CharField(max_length=12, choices=KeyStatus.choices, default=KeyStatus.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    response_body = models.BinaryField(null=True, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)  # the worker's purge reads by it

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")]

    def __str__(self) -> str:
        return f"{self.key} ({self.status})"
