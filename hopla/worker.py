"""The RQ worker hopla runs: jobs in the worker process itself, plus the periodic sweeps listed in
`WORKER_PERIODIC_TASKS`.

Jobs run one after another in this process (RQ's `SimpleWorker`), not in a work horse forked per
job: a fork, a new database connection and a new Cloudinary session cost each image job more than
the job's own work (bench/ W5: 0.31 of a plain loop's throughput). Timeouts still hold (RQ's SIGALRM
in the main thread). Between jobs the database connection is treated as between requests.

RQ's loop makes 20 Redis round trips per job, and eleven of them repeat what was just said or will
be said a moment later: the worker's heartbeat (three commands, three times within a millisecond),
its `idle` state (twice), the job's heartbeat just before the job's whole record is written. Where a
round trip costs a quarter of a millisecond (this project's machines), that was ~3 ms of every job:
this worker makes 9 (hopla/tests/test_worker.py counts them; bench/ W5 measures the gap between jobs).
The Procfile starts it with glibc's `MALLOC_MMAP_THRESHOLD_` and `MALLOC_TRIM_THRESHOLD_`, so that the
memory a job frees is kept for the next job: ~3 ms of page faults per image (hopla/tests/test_memory.py).

A sweep repairs what a queue cannot: work whose job was never queued (Redis was down when the web
request committed) or whose worker died mid-job. It runs in a thread of the worker's process, so it
keeps going while Redis is away and needs no extra process type in the Procfile. The sweeps that consume
the event table (`WORKER_EVENT_TASKS`: webhooks' dispatch, notifications) also run as soon as events
commit (tickets.event_wakeup), at most every EVENT_TASK_MIN_GAP_SECONDS, and at their interval otherwise.

The worker recycles itself: after `--max-jobs` jobs (the Procfile's `WORKER_MAX_JOBS`, 1000) it
finishes its job, leaves RQ's registries and exits 0, so that memory a leak in Pillow or a bad image
kept is returned to the system; the process manager starts a fresh one (compose's `restart` policy,
systemd's `Restart=`). `--max-jobs 0` never recycles, for a manager that would not restart it (honcho).
"""

import logging
import math
import threading
import time
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils.module_loading import import_string
from redis.client import Pipeline
from rq import SimpleWorker
from rq.job import Job
from rq.queue import Queue
from rq.utils import now as rq_now
from rq.worker import WorkerStatus

from tickets.event_wakeup import EventWakeup

logger = logging.getLogger("hopla.jobs")

# A heartbeat asked for within this many seconds of the last one, which already keeps the worker's key
# alive at least as long, is not sent again (its key lives `worker_ttl` + 60 s, 480 s by default).
HEARTBEAT_REPEAT_SECONDS = 1.0
# An event-consuming sweep woken by commits runs at most this often: under a stream of commits each run
# takes what the last ones committed together (webhooks' dispatch writes its deliveries in one statement a
# batch), instead of a run for every commit.
EVENT_TASK_MIN_GAP_SECONDS = 0.05


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

    _heartbeat_sent_at = -math.inf  # time.monotonic() of the last heartbeat
    _heartbeat_until = -math.inf  # when the worker's key expires if no heartbeat follows

    def work(self, burst: bool = False, **kwargs: Any) -> bool:  # type: ignore[override]
        tasks: dict[str, float] = settings.WORKER_PERIODIC_TASKS
        if burst:
            # A burst worker drains the queue and leaves: sweep once first so it drains the repairs too.
            for path in tasks:
                run_periodic_task(path)
        else:
            for path, interval in tasks.items():
                target = self._on_events if path in settings.WORKER_EVENT_TASKS else self._every
                threading.Thread(target=target, args=(path, interval), name=f"sweep {path}", daemon=True).start()
        # RQ would stop after the first job when given 0; here 0 means no limit (see the module docstring).
        kwargs["max_jobs"] = kwargs.get("max_jobs") or None
        return super().work(burst=burst, **kwargs)

    def execute_job(self, job: Job, queue: Queue) -> None:
        # As around a request: the connection goes back to the pool after each job, and the pool tests
        # it before lending it again (CONN_HEALTH_CHECKS), so a job never inherits a connection that
        # PostgreSQL dropped meanwhile. Without a pool, Django's health check does the same.
        close_old_connections()
        try:
            # SimpleWorker.execute_job, but its `idle` state goes with the heartbeat that RQ's loop
            # sends right after (which is then a repeat): one round trip instead of two.
            execution = self.prepare_execution(job)
            self.perform_job(job, queue, execution)
        finally:
            close_old_connections()
        with self.connection.pipeline(transaction=False) as pipeline:
            self.set_state(WorkerStatus.IDLE, pipeline=pipeline)
            self.heartbeat(pipeline=pipeline)
            pipeline.execute()

    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int) -> None:
        if job.success_callback or job.failure_callback:
            super().handle_execution_ended(job, queue, heartbeat_ttl)  # the callback runs before the write below
            return
        # RQ stamps the job's heartbeat here on a round trip of its own, then writes the whole job,
        # that stamp included, with its outcome: the stamp can wait for that write.
        job.ended_at = job.last_heartbeat = rq_now()

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> None:
        timeout = timeout or self.worker_ttl + 60
        now = time.monotonic()
        if pipeline is not None:
            super().heartbeat(timeout, pipeline=pipeline)  # the caller's round trip carries it
        elif (
            now - self._heartbeat_sent_at < HEARTBEAT_REPEAT_SECONDS
            and self._heartbeat_until >= now + timeout - HEARTBEAT_REPEAT_SECONDS
        ):
            return
        else:
            with self.connection.pipeline(transaction=False) as own_pipeline:
                super().heartbeat(timeout, pipeline=own_pipeline)
                own_pipeline.execute()
        # A caller's pipeline runs right after this; if it fails, the worker's loop stops or retries.
        self._heartbeat_sent_at, self._heartbeat_until = now, now + timeout

    def set_state(self, state: str, pipeline: Pipeline | None = None) -> None:
        # Only this worker writes its state: the hash holds it already when it has not changed.
        if pipeline is None and state == self.get_state():
            return
        super().set_state(state, pipeline)

    @staticmethod
    def _every(path: str, interval: float) -> None:
        while True:
            run_periodic_task(path)
            time.sleep(interval)

    @staticmethod
    def _on_events(path: str, interval: float) -> None:
        wakeup = EventWakeup()
        wakeup.listen()  # before the first run, which then reads every commit made before it
        while True:
            started = time.monotonic()
            run_periodic_task(path)
            wakeup.wait(interval)
            time.sleep(max(0.0, started + EVENT_TASK_MIN_GAP_SECONDS - time.monotonic()))
