"""Background jobs: on the RQ `default` queue when Redis is configured, in the process otherwise.

Callers enqueue from `transaction.on_commit`, so a job never sees a row that was rolled back.
"""

import functools
import logging
from collections.abc import Sequence
from typing import Any

import django_rq
from django.conf import settings
from django.utils.module_loading import import_string
from rq import Queue, Retry, get_current_job

logger = logging.getLogger("hopla.jobs")


@functools.cache
def default_queue() -> Queue:
    """The `default` queue, one per process. `django_rq.get_queue` builds a new Redis client, hence a
    new connection pool and TCP connection, on every call; a redis-py pool is thread-safe, so the
    request threads share this one. A connection Redis dropped is replaced by the pool on next use."""
    return django_rq.get_queue("default")


def enqueue(job: str, *args: Any, retry_intervals: Sequence[int] = ()) -> bool:
    """Run `job(*args)` on a worker, or right here in the embedded default (no Redis).

    `job` is the dotted path of the job function (`"tickets.jobs.process_image"`), which is what RQ
    stores anyway. A job calls a service and the service enqueues the job: naming the job, rather than
    importing its module, keeps the service from importing the module that imports it.

    `retry_intervals` gives the seconds to wait before each retry after the job raised (RQ `Retry`;
    the worker must run `--with-scheduler` for non-zero intervals). In-process runs try once.
    Answers False when the job could not be queued (Redis down): the caller's data is committed and
    a recovery path (e.g. `requeue_stuck_images`) must pick it up later; it is logged, never raised.
    """
    if settings.REDIS_URL:
        retry = Retry(max=len(retry_intervals), interval=list(retry_intervals)) if retry_intervals else None
        try:
            default_queue().enqueue(job, *args, retry=retry)
        except Exception:
            logger.exception("job not enqueued", extra={"fields": {"job": job, "args": [str(a) for a in args]}})
            return False
        return True
    logger.info("job started", extra={"fields": {"job": job, "mode": "in-process"}})
    try:
        import_string(job)(*args)
    except Exception:
        # A worker would record the failure and carry on; the request that enqueued has succeeded.
        logger.exception("job failed", extra={"fields": {"job": job, "mode": "in-process"}})
        return True
    logger.info("job finished", extra={"fields": {"job": job, "mode": "in-process"}})
    return True


def is_last_attempt() -> bool:
    """Inside a job: True when a failure now would not be retried (no retries left, or in-process)."""
    current = get_current_job()
    return current is None or not current.retries_left
