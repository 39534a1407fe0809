"""Background jobs: on the RQ `default` queue when Redis is configured, in the process otherwise.

Callers enqueue from `transaction.on_commit`, so a job never sees a row that was rolled back.
"""

import logging
from collections.abc import Callable
from typing import Any

import django_rq
from django.conf import settings

logger = logging.getLogger("hopla.jobs")


def enqueue(job: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run `job(*args, **kwargs)` on a worker, or right here in the embedded default (no Redis)."""
    if settings.REDIS_URL:
        django_rq.get_queue("default").enqueue(job, *args, **kwargs)
        return
    name = f"{job.__module__}.{job.__qualname__}"
    logger.info("job started", extra={"fields": {"job": name, "mode": "in-process"}})
    try:
        job(*args, **kwargs)
    except Exception:
        # A worker would record the failure and carry on; the request that enqueued has succeeded.
        logger.exception("job failed", extra={"fields": {"job": name, "mode": "in-process"}})
        return
    logger.info("job finished", extra={"fields": {"job": name, "mode": "in-process"}})
