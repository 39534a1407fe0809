"""What the bench server measures about itself: how long the upload request spends enqueueing its job.

`install()` wraps `hopla.jobs.enqueue` where the image service calls it; the durations are read (and
reset) at `GET /bench/enqueue-timings/`. One list per server process: W5 runs on a one-process server.
"""

import functools
import time
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, JsonResponse

_enqueue_seconds: list[float] = []


def install() -> None:
    from tickets.services import images  # after django.setup(): the service imports models

    original: Callable[..., bool] = images.enqueue

    @functools.wraps(original)
    def timed_enqueue(*args: Any, **kwargs: Any) -> bool:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            _enqueue_seconds.append(time.perf_counter() - started)

    images.enqueue = timed_enqueue  # type: ignore[assignment]


def enqueue_timings(request: HttpRequest) -> JsonResponse:
    timings = list(_enqueue_seconds)
    _enqueue_seconds.clear()
    return JsonResponse({"seconds": timings})


def noop() -> None:
    """A job that does nothing: the bench enqueues it to park the worker in its suspended state."""
