"""hopla's RQ worker talks to Redis less per job than RQ's own, and what monitoring reads stays true:
the worker's key never expires while it runs, its heartbeat stamp stays fresh, its state is right."""

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from redis.connection import AbstractConnection
from rq import Retry, SimpleWorker, Worker
from rq.worker import WorkerStatus

from bench.processes import procfile_command
from hopla.jobs import default_queue
from hopla.worker import HEARTBEAT_REPEAT_SECONDS, PeriodicTasksWorker

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times this process has sent Redis a command or a pipeline (one round trip each)."""
    sent = [0]
    send = AbstractConnection.send_packed_command

    def counting_send(connection: AbstractConnection, *args: object, **kwargs: object) -> None:
        sent[0] += 1
        send(connection, *args, **kwargs)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting_send)
    return sent


def _round_trips_per_job(worker_class: type[SimpleWorker], round_trips: list[int]) -> float:
    """Round trips of a burst worker per job: a run of 30 jobs against one of 10, so that what a
    worker does once (registering, sweeping, leaving) cancels out."""

    def burst(jobs: int) -> int:
        queue = default_queue()
        enqueued = [queue.enqueue(os.getpid) for _ in range(jobs)]
        before = round_trips[0]
        worker_class([queue], connection=queue.connection).work(burst=True)
        sent = round_trips[0] - before
        assert all(job.get_status(refresh=True) == "finished" for job in enqueued)
        return sent

    return (burst(30) - burst(10)) / 20


def test_the_worker_needs_under_half_of_rqs_round_trips_per_job(round_trips, settings):
    """RQ's loop makes 20 round trips per job, eleven of them repeats (the worker's heartbeat, its idle
    state, the job's heartbeat): at a quarter of a millisecond each on this project's machines, ~3 ms
    of every image job (bench/ W5)."""
    settings.WORKER_PERIODIC_TASKS = {}  # a burst worker sweeps first, in this test's transaction
    assert _round_trips_per_job(SimpleWorker, round_trips) >= 19
    assert _round_trips_per_job(PeriodicTasksWorker, round_trips) <= 9


def _worker() -> PeriodicTasksWorker:
    queue = default_queue()
    worker = PeriodicTasksWorker([queue], connection=queue.connection)
    worker.register_birth()
    return worker


def _stamp(worker: PeriodicTasksWorker) -> bytes | None:
    return worker.connection.hget(worker.key, "last_heartbeat")  # type: ignore[return-value]


def _ttl(worker: PeriodicTasksWorker) -> int:
    return int(worker.connection.ttl(worker.key))


def test_a_repeated_heartbeat_is_skipped_but_one_that_lengthens_the_key_s_life_is_sent():
    worker = _worker()
    worker.heartbeat()
    stamp = _stamp(worker)
    assert _ttl(worker) > worker.worker_ttl  # worker_ttl + 60 s

    worker.heartbeat()  # at once, and asking for no longer a life: nothing new to say
    assert _stamp(worker) == stamp

    worker.heartbeat(timeout=3600)
    assert _stamp(worker) != stamp
    assert _ttl(worker) > 3000


def test_after_a_job_s_shorter_heartbeat_the_next_one_restores_the_idle_life_of_the_key():
    """RQ beats with the job's timeout + 60 s as a job starts; the beat after the job must be sent
    (not skipped as a repeat), or an idle worker blocked on the queue for worker_ttl would expire."""
    worker = _worker()
    worker.heartbeat()
    with worker.connection.pipeline() as pipeline:
        worker.heartbeat(90, pipeline=pipeline)  # as in RQ's prepare_job_execution
        pipeline.execute()
    assert _ttl(worker) <= 90

    worker.heartbeat()
    assert _ttl(worker) > worker.worker_ttl


def test_the_heartbeat_stamp_is_never_older_than_the_repeat_window(monkeypatch: pytest.MonkeyPatch):
    worker = _worker()
    clock = [1000.0]
    monkeypatch.setattr("hopla.worker.time.monotonic", lambda: clock[0])
    worker.heartbeat()
    stamp = _stamp(worker)
    clock[0] += HEARTBEAT_REPEAT_SECONDS / 2
    worker.heartbeat()
    assert _stamp(worker) == stamp
    clock[0] += HEARTBEAT_REPEAT_SECONDS
    worker.heartbeat()
    assert _stamp(worker) != stamp
    stamped = datetime.fromisoformat((_stamp(worker) or b"").decode().replace("Z", "+00:00"))
    assert (datetime.now(UTC) - stamped).total_seconds() < 5


def test_the_state_in_redis_follows_every_change():
    worker = _worker()
    for state in (WorkerStatus.IDLE, WorkerStatus.IDLE, WorkerStatus.BUSY, WorkerStatus.SUSPENDED, WorkerStatus.IDLE):
        worker.set_state(state)
        assert worker.connection.hget(worker.key, "state") == state.encode()


def test_after_a_job_the_worker_is_idle_and_the_job_has_its_outcome_and_heartbeat():
    worker = _worker()
    queue = default_queue()
    job = queue.enqueue(os.getpid)
    dequeued = worker.dequeue_job_and_maintain_ttl(timeout=1)
    assert dequeued is not None
    assert dequeued[0].id == job.id
    worker.execute_job(*dequeued)

    assert worker.connection.hget(worker.key, "state") == b"idle"
    job.refresh()
    assert job.get_status() == "finished"
    assert job.return_value() == os.getpid()
    assert job.started_at
    assert job.ended_at
    assert job.last_heartbeat
    assert job.started_at <= job.last_heartbeat
    assert job.ended_at <= job.last_heartbeat
    assert _ttl(worker) > worker.worker_ttl


def test_a_failing_job_is_retried_then_recorded_failed_with_its_error():
    worker = _worker()
    queue = default_queue()
    job = queue.enqueue(json.loads, "{", retry=Retry(max=1))

    for expected in ("queued", "failed"):  # the retry goes back on the queue (no interval), then fails
        dequeued = worker.dequeue_job_and_maintain_ttl(timeout=1)
        assert dequeued is not None
        worker.execute_job(*dequeued)
        assert job.get_status(refresh=True) == expected

    assert job.id in queue.failed_job_registry.get_job_ids()
    job.refresh()
    result = job.latest_result()
    assert result is not None
    assert "JSONDecodeError" in (result.exc_string or "")
    assert job.last_heartbeat
    assert worker.connection.hget(worker.key, "state") == b"idle"


def test_the_procfile_worker_recycles_itself_after_worker_max_jobs():
    """It exits 0 once its last job is done and leaves RQ's registry; the next job waits for its successor."""
    queue = default_queue()
    jobs = [queue.enqueue(os.getpid) for _ in range(3)]
    database = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "hopla.settings.test",
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
    }
    worker = subprocess.run(
        procfile_command("worker", {"WORKER_MAX_JOBS": "2"}),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.returncode == 0, worker.stderr
    assert "finished executing 2 jobs, quitting" in worker.stderr
    assert [job.get_status(refresh=True) for job in jobs] == ["finished", "finished", "queued"]
    assert Worker.all(connection=queue.connection) == []


def test_a_worker_given_no_job_limit_0_never_recycles(settings):
    settings.WORKER_PERIODIC_TASKS = {}  # a burst worker sweeps first, in this test's transaction
    queue = default_queue()
    jobs = [queue.enqueue(os.getpid) for _ in range(3)]
    PeriodicTasksWorker([queue], connection=queue.connection).work(burst=True, max_jobs=0)  # RQ's would stop at 1
    assert [job.get_status(refresh=True) for job in jobs] == ["finished"] * 3
