"""W5: image jobs through the queue and a real worker, against the same job function called in a loop.

Each round uploads N images over HTTP while the worker is parked (suspended), then either lets the
worker run them (throughput from RQ's own start and end stamps: first start to last end) or takes the
jobs off the queue and calls `tickets.jobs.process_image` on each here, one after the other. The
upload requests also report how long `hopla.jobs.enqueue` took inside them (bench.instrument).
"""

import io
import json
import random
import statistics
import time
import urllib.request
import uuid
from itertools import pairwise

import django_rq
from PIL import Image as PillowImage
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.suspension import is_suspended, resume, suspend
from rq.worker import Worker, WorkerStatus

from bench.instrument import noop
from bench.report import Row
from tickets.jobs import process_image
from tickets.models import Image, ImageStatus

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def noisy_jpeg(side: int) -> bytes:
    """A photo-like JPEG (noise does not compress) with EXIF for the job to strip."""
    image = PillowImage.frombytes("RGB", (side, side), random.randbytes(side * side * 3))
    output = io.BytesIO()
    exif = PillowImage.Exif()
    exif[0x010F] = "BenchCam"
    image.save(output, format="JPEG", quality=90, exif=exif)
    return output.getvalue()


def _upload(base_url: str, ticket_key: str, token: str, photo: bytes) -> tuple[str, float]:
    boundary = uuid.uuid4().hex
    data = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="photo.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + photo
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        f"{base_url}/api/v1/tickets/{ticket_key}/images/",
        data=data,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    started = time.perf_counter()
    with _opener.open(request, timeout=30) as response:
        body = json.loads(response.read())
    return body["id"], time.perf_counter() - started


def _enqueue_timings(base_url: str) -> list[float]:
    with _opener.open(f"{base_url}/bench/enqueue-timings/", timeout=10) as response:
        return [float(seconds) for seconds in json.loads(response.read())["seconds"]]


def _park_worker() -> None:
    """Suspend the worker, and make sure it has seen it: a worker blocked on the queue would take one more job."""
    queue = django_rq.get_queue("default")
    if is_suspended(queue.connection):
        return  # still parked since the last round
    suspend(queue.connection)
    job = queue.enqueue(noop)
    deadline = time.monotonic() + 30
    # The parking job done, the worker's next loop sees the suspension: wait until it says so. A worker
    # still busy with an earlier job may see the suspension first and never take the parking job: then
    # the job is taken back, so the round's queue holds only its own jobs.
    while True:
        parked = all(worker.get_state() == WorkerStatus.SUSPENDED for worker in Worker.all(queue=queue))
        status = job.get_status(refresh=True)
        if parked and status == "finished":
            return
        if parked and status == "queued":
            queue.remove(job)
            return
        if time.monotonic() > deadline:
            raise SystemExit("the RQ worker did not park (suspend) in time")
        time.sleep(0.02)


def _cpu_times() -> tuple[int, int]:
    """(steal, total) jiffies of the machine from /proc/stat: time a hypervisor gave another guest."""
    with open("/proc/stat") as stat:
        values = [int(value) for value in stat.readline().split()[1:]]
    return values[7], sum(values)


def _steal_percent(before: tuple[int, int], after: tuple[int, int]) -> float:
    return 100 * (after[0] - before[0]) / max(after[1] - before[1], 1)


def _wait_ready(image_ids: list[str], timeout: float = 300, poll_seconds: float = 0.5) -> None:
    """Until every image is ready. The worker's rate comes from RQ's stamps, not from when this loop
    notices: it polls seldom, since each poll takes CPU from the worker it waits for (the loop it is
    compared with has no poller beside it)."""
    deadline = time.monotonic() + timeout
    done = (ImageStatus.READY, ImageStatus.FAILED)
    while Image.objects.filter(pk__in=image_ids).exclude(status__in=done).exists():
        if time.monotonic() > deadline:
            raise SystemExit("image jobs did not finish")
        time.sleep(poll_seconds)
    failed = Image.objects.filter(pk__in=image_ids, status=ImageStatus.FAILED).count()
    if failed:
        raise SystemExit(f"{failed} image jobs failed")


def _through_worker(job_ids: list[str], image_ids: list[str]) -> tuple[float, list[float], list[float]]:
    """Jobs per second from RQ's stamps (the first job's start to the last job's end), with each job's
    milliseconds from its start to its end, and from one job's end to the next one's start (RQ's
    bookkeeping between jobs)."""
    queue = django_rq.get_queue("default")
    resume(queue.connection)
    _wait_ready(image_ids)
    deadline = time.monotonic() + 30
    while True:
        try:
            jobs = [Job.fetch(job_id, connection=queue.connection) for job_id in job_ids]
        except NoSuchJobError:  # a job's hash is rewritten as it finishes: read again
            jobs = []
        if jobs and all(job.started_at and job.ended_at for job in jobs):
            break
        if time.monotonic() > deadline:
            raise SystemExit("RQ did not record every image job's start and end")
        time.sleep(0.05)
    # (start, end) of each job, in the order they ran; every job has both (the loop above waited for them).
    stamps = sorted((job.started_at, job.ended_at) for job in jobs if job.started_at and job.ended_at)
    job_ms = [(end - start).total_seconds() * 1000 for start, end in stamps]
    gap_ms = [(later[0] - earlier[1]).total_seconds() * 1000 for earlier, later in pairwise(stamps)]
    seconds = (max(end for _, end in stamps) - stamps[0][0]).total_seconds()
    return len(job_ids) / seconds, job_ms, gap_ms


def _in_a_loop(job_ids: list[str], image_ids: list[str]) -> tuple[float, list[float]]:
    """Jobs per second of the job function called in a loop, with each call's milliseconds."""
    queue = django_rq.get_queue("default")
    for job_id in job_ids:
        queue.remove(job_id)
    job_ms = []
    started = time.perf_counter()
    for image_id in image_ids:
        call_started = time.perf_counter()
        process_image(image_id)
        job_ms.append((time.perf_counter() - call_started) * 1000)
    return len(image_ids) / (time.perf_counter() - started), job_ms


def run(
    *, base_url: str, token: str, ticket_key: str, jobs: int, rounds: int, image_side: int, rows: list[Row]
) -> None:
    # The loop runs with the worker's malloc settings (the Procfile's, set by bench/__main__.py), so that
    # both sides allocate alike.
    photo = noisy_jpeg(image_side)
    name = f"W5 images x{jobs}"
    throughput = Row(name, "jobs/s", note=f"JPEG {len(photo) / 1024:.0f} KiB; ref = job function in a loop")
    # Where a worker's job time goes, per round's medians: the job between RQ's stamps, plus RQ's gap
    # to the next job, against one call in the loop.
    per_job = Row(name, "ms per job: worker job + gap / loop call")
    worker_job_ms: list[float] = []
    gap_ms: list[float] = []
    upload_ms: list[float] = []
    enqueue_ms: list[float] = []
    queue = django_rq.get_queue("default")
    _enqueue_timings(base_url)
    try:
        for number in range(rounds):
            measured: dict[str, float] = {}
            steal: dict[str, float] = {}
            loop_call_ms: list[float] = []
            for mode in ("worker", "loop") if number % 2 == 0 else ("loop", "worker"):
                _park_worker()
                uploads = [_upload(base_url, ticket_key, token, photo) for _ in range(jobs)]
                upload_ms += [seconds * 1000 for _, seconds in uploads]
                enqueue_ms += [seconds * 1000 for seconds in _enqueue_timings(base_url)]
                image_ids = [image_id for image_id, _ in uploads]
                job_ids = queue.get_job_ids()
                if len(job_ids) != jobs:
                    raise SystemExit(f"expected {jobs} queued jobs, found {len(job_ids)}")
                cpu_before = _cpu_times()
                if mode == "worker":
                    measured[mode], round_job_ms, round_gap_ms = _through_worker(job_ids, image_ids)
                    worker_job_ms.append(statistics.median(round_job_ms))
                    gap_ms.append(statistics.median(round_gap_ms) if round_gap_ms else 0.0)
                else:
                    measured[mode], loop_call_ms = _in_a_loop(job_ids, image_ids)
                steal[mode] = _steal_percent(cpu_before, _cpu_times())
                _wait_ready(image_ids)
            throughput.add(measured["worker"], measured["loop"])
            per_job.add(worker_job_ms[-1] + gap_ms[-1], statistics.median(loop_call_ms))
            print(
                f"round {number + 1}: worker {measured['worker']:.1f} jobs/s, loop {measured['loop']:.1f} jobs/s, "
                f"ratio {measured['worker'] / measured['loop']:.2f}; medians: worker job {worker_job_ms[-1]:.1f} ms "
                f"+ gap {gap_ms[-1]:.2f} ms, loop call {statistics.median(loop_call_ms):.1f} ms; "
                f"CPU steal {steal['worker']:.0f} % / {steal['loop']:.0f} %",
                flush=True,
            )
    finally:
        resume(queue.connection)
    throughput.note_spread()
    rows.append(throughput)
    per_job.note = f"worker: job {statistics.median(worker_job_ms):.1f} + gap {statistics.median(gap_ms):.2f} ms"
    rows.append(per_job)
    enqueue = Row(name, "upload request ms: enqueue / whole", note="ref = the whole upload request")
    enqueue.add(statistics.median(enqueue_ms), statistics.median(upload_ms))
    rows.append(enqueue)
