"""The drain jobs: which webhooks are being drained, and several of them drained at once.

A key in the cache (Redis) says a drain of a webhook is queued or running, so that the dispatcher
(every WEBHOOK_DISPATCH_INTERVAL_SECONDS) does not queue one per tick. It expires with the lease:
a drain that died with its worker is asked for again once its drain lease has run out.

One job drains up to WEBHOOK_DELIVERY_THREADS webhooks at once, each on a thread of the worker's
pool. One by one, a receiver that answers slowly (or not at all: WEBHOOK_TIMEOUT_SECONDS a try)
held up every other webhook queued behind it on that worker. A drain's thread reads and records
(PostgreSQL); its requests go out on the process's sender (webhooks.sender), one event loop on which
every drain's chunk is sent at once, so a thread waits for its chunk rather than for each request. A
webhook is still drained by one thread at a time (its drain lease), so its first attempts keep `seq` order.
"""

import logging
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections

from hopla.jobs import enqueue
from webhooks.delivering import deliveries_drain, lease_seconds

logger = logging.getLogger("hopla.webhooks")

_JOB = "webhooks.jobs.deliver"


def _drain_key(webhook_id: Any) -> str:
    return f"webhooks:drain:{webhook_id}"


def drains_request(webhook_ids: Iterable[Any]) -> None:
    """Queue drains of these webhooks, leaving out those queued or running already: a job per
    WEBHOOK_DELIVERY_THREADS of them, so that several workers share a long list."""
    taken = [webhook_id for webhook_id in webhook_ids if _drain_key_take(webhook_id)]
    size = max(1, settings.WEBHOOK_DELIVERY_THREADS)
    for start in range(0, len(taken), size):
        _drains_enqueue(taken[start : start + size])


def drain_request(webhook_id: Any) -> None:
    drains_request([webhook_id])


def drains_run(webhook_ids: list[str]) -> None:
    """The job: drain each webhook for a while, at once on the pool's threads when there are several;
    then queue again, in one job, those that stopped for time with deliveries left."""
    if len(webhook_ids) == 1:
        outcomes = [_drain_outcome(webhook_ids[0])]
    else:
        outcomes = list(_pool().map(_drain_on_a_thread, webhook_ids))
    more_due = [webhook_id for webhook_id, (more, _) in zip(webhook_ids, outcomes, strict=True) if more]
    for webhook_id, (more, _) in zip(webhook_ids, outcomes, strict=True):
        if not more:
            _drain_key_drop(webhook_id)
    _drains_enqueue([webhook_id for webhook_id in more_due if _drain_key_renew(webhook_id)])
    errors = [error for _, error in outcomes if error is not None]
    if errors:
        raise errors[0]  # recorded by RQ as the job's failure; the others were logged


def _drain_outcome(webhook_id: str) -> tuple[bool, Exception | None]:
    """Whether deliveries may be left, or the error that stopped the drain (its webhook's key is
    dropped: the dispatcher asks again at its next tick)."""
    try:
        return deliveries_drain(webhook_id=webhook_id), None
    except Exception as error:
        logger.exception("drain failed", extra={"fields": {"webhook": str(webhook_id)}})
        return False, error


def _drain_on_a_thread(webhook_id: str) -> tuple[bool, Exception | None]:
    # A pool thread keeps its own database connection between drains, as Django keeps a request
    # thread's: closed here only when broken or past CONN_MAX_AGE.
    close_old_connections()
    try:
        return _drain_outcome(webhook_id)
    finally:
        close_old_connections()


_pool_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    """The worker process's drain threads, made on first use and kept for its life."""
    global _executor
    with _pool_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                max_workers=max(1, settings.WEBHOOK_DELIVERY_THREADS), thread_name_prefix="webhook-drain"
            )
        return _executor


def _drains_enqueue(webhook_ids: list[Any]) -> bool:
    """One job for these webhooks (their keys taken); answers False (keys dropped) when not queued."""
    if not webhook_ids:
        return True
    if enqueue(_JOB, *[str(webhook_id) for webhook_id in webhook_ids]):
        return True
    for webhook_id in webhook_ids:
        _drain_key_drop(webhook_id)
    return False


def _drain_key_take(webhook_id: Any) -> bool:
    try:
        return bool(cache.add(_drain_key(webhook_id), 1, timeout=lease_seconds()))
    except Exception:
        logger.warning("drain not requested: the cache is away", extra={"fields": {"webhook": str(webhook_id)}})
        return False


def _drain_key_renew(webhook_id: Any) -> bool:
    try:
        return bool(cache.touch(_drain_key(webhook_id), timeout=lease_seconds()))
    except Exception:
        return False


def _drain_key_drop(webhook_id: Any) -> None:
    try:
        cache.delete(_drain_key(webhook_id))
    except Exception:
        logger.warning("drain key not dropped: the cache is away", extra={"fields": {"webhook": str(webhook_id)}})
