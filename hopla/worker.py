"""The RQ worker hopla runs: jobs in the worker process itself, plus the periodic sweeps listed in
`WORKER_PERIODIC_TASKS`.

Jobs run one after another in this process (RQ's `SimpleWorker`), not in a work horse forked per
job: a fork, a new database connection and a new Cloudinary session cost each image job more than
the job's own work (bench/ W5: 0.31 of a plain loop's throughput). Timeouts still hold (RQ's SIGALRM
in the main thread). Between jobs the database connection is treated as between requests.

A sweep repairs what a queue cannot: work whose job was never queued (Redis was down when the web
request committed) or whose worker died mid-job. It runs in a thread of the worker's process, so it
keeps going while Redis is away and needs no extra process type in the Procfile.
"""

import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils.module_loading import import_string
from rq import SimpleWorker
from rq.job import Job
from rq.queue import Queue

logger = logging.getLogger("hopla.jobs")


def run_periodic_task(path: str) -> None:
    """Run one sweep; its failure is logged and the next run tries again."""
    try:
        import_string(path)()
    except Exception:
        logger.exception("periodic task failed", extra={"fields": {"task": path}})
    finally:
        connection.close()  # this thread's own connection: nothing else would close it


class PeriodicTasksWorker(SimpleWorker):
    """`python manage.py rqworker default --with-scheduler --worker-class hopla.worker.PeriodicTasksWorker`."""

    def work(self, burst: bool = False, **kwargs: Any) -> bool:  # type: ignore[override]
        tasks: dict[str, int] = settings.WORKER_PERIODIC_TASKS
        if burst:
            # A burst worker drains the queue and leaves: sweep once first so it drains the repairs too.
            for path in tasks:
                run_periodic_task(path)
        else:
            for path, interval in tasks.items():
                threading.Thread(target=self._every, args=(path, interval), name=f"sweep {path}", daemon=True).start()
        return super().work(burst=burst, **kwargs)

    def execute_job(self, job: Job, queue: Queue) -> None:
        # As around a request: the connection goes back to the pool after each job, and the pool tests
        # it before lending it again (CONN_HEALTH_CHECKS), so a job never inherits a connection that
        # PostgreSQL dropped meanwhile. Without a pool, Django's health check does the same.
        close_old_connections()
        try:
            super().execute_job(job, queue)
        finally:
            close_old_connections()

    @staticmethod
    def _every(path: str, interval: int) -> None:
        while True:
            run_periodic_task(path)
            time.sleep(interval)
