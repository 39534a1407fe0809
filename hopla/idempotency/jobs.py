"""The worker's sweep of expired idempotency keys (hopla.worker runs it every IDEMPOTENCY_PURGE_INTERVAL_SECONDS)."""

import logging

from hopla.idempotency.services import idempotency_keys_purge_expired

logger = logging.getLogger("hopla.jobs")


def purge_expired_idempotency_keys() -> None:
    purged = idempotency_keys_purge_expired()
    if purged:
        logger.info(
            "idempotency keys purged", extra={"fields": {"job": "purge_expired_idempotency_keys", "keys": purged}}
        )
