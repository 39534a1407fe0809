"""Where a request's CPU goes, hopla beside its floor: `python -m bench.profile [--workload W2|W3]`.

On the full bench database (seeded as `python -m bench` seeds it when missing, and kept for the next
run), the Procfile's web server with bench settings serves hopla and the floor views. For each side in
turn, wrk drives the workload with a few connections while `py-spy record --gil` samples every
server process; each sample is put in the first step of `STEPS` whose markers appear in its stack.
The table is milliseconds of GIL held per request: the Python CPU that, on two cores shared by two
server processes, bounds the throughput. Time waiting for PostgreSQL or the network holds no GIL and
is not in it.

py-spy slows the sampled server, so its req/s here are not benchmark figures (`python -m bench` is);
the shares are what this is for.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.environment import server_environment
from bench.scale import FULL

# (step, markers): a sample belongs to the first step with a marker (a substring of a frame, like
# "module/file.py" or "function (bench/floor.py") anywhere in its stack. The order matters: a query run
# for authentication counts as authentication, JSON encoding inside a serializer as serialization.
STEPS: list[tuple[str, tuple[str, ...]]] = [
    (
        "authentication: JWT, the user's row",
        ("hopla/api/authentication.py", "rest_framework_simplejwt/", "_authenticated_user (bench/floor.py"),
    ),
    ("the write throttle (Redis)", ("hopla/api/throttling.py",)),
    ("the list's ETag (conditional GET)", ("tickets/list_etag.py",)),
    (
        "publishing the event (channel layer, after commit)",
        ("event_publish (", "_publish_and_mark (", "channels_redis/"),
    ),
    (
        "parsing and validating the body",
        ("rest_framework/parsers.py", "hopla/api/parsers.py", "hopla/api/input.py", "is_valid (", "json/decoder.py"),
    ),
    # The compiler's execute_sql runs as_sql, then the cursor: only frames below as_sql are compiling.
    ("queries: compiling SQL (ORM)", ("as_sql (",)),
    ("queries: executing, fetching rows", ("django/db/backends/", "psycopg/", "psycopg_pool/")),
    ("queries: the rest of the ORM (model instances, querysets)", ("django/db/models/",)),
    ("filters and the queryset", ("django_filters/", "tickets/filters.py", "hopla/api/filters.py", "selectors.py")),
    (
        "rendering tickets to dicts",
        (
            "tickets/list_rows.py",
            "rest_framework/serializers.py",
            "rest_framework/fields.py",
            "hopla/api/representation.py",
            "_ticket_json (bench/floor.py",
            "_user_summary (bench/floor.py",
        ),
    ),
    (
        "JSON encoding",
        (
            "json/encoder.py",
            "json/__init__.py",
            "rest_framework/renderers.py",
            "hopla/api/renderers.py",
            "_json_response (bench/floor.py",
        ),
    ),
    (
        "the view's own code (DRF dispatch, permissions, pagination)",
        ("rest_framework/", "tickets/apis.py", "bench/floor.py"),
    ),
    ("the request log line", ("logging/__init__.py", "hopla/logging.py")),
    ("middleware", ("django/middleware/", "corsheaders/", "hopla/middleware.py", "whitenoise/", "django/contrib/")),
    ("Django's request handling (handler, URLs, request and response)", ("django/",)),
    ("server: event loop, HTTP, thread hand-off", ("",)),
]

SIDES = {"hopla": "/api/v1/tickets/", "floor": "/bench/floor/tickets/"}


@dataclass
class Profile:
    requests: int
    seconds: float
    samples_per_step: Counter[str]
    rate: int

    def ms_per_request(self, step: str) -> float:
        return self.samples_per_step[step] / self.rate * 1000 / max(self.requests, 1)


def step_of(stack: str) -> str:
    return next(step for step, markers in STEPS if any(marker in stack for marker in markers))


def server_pids(marker: str) -> list[int]:
    """Processes of this checkout whose command line names `marker` (the bench app): the server and its
    workers. Another checkout's bench server on the same machine runs in its own directory."""
    from bench.processes import ROOT

    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                directory = (entry / "cwd").resolve()
            except OSError:
                continue
            if marker in command and "py-spy" not in command and directory == ROOT:
                pids.append(int(entry.name))
    return pids


def profile(
    base_url: str, request: object, *, seconds: int, connections: int, rate: int, keep: Path | None = None
) -> Profile:
    from bench.load import run_wrk
    from bench.processes import APP, BIN

    with tempfile.TemporaryDirectory(prefix="hopla-profile-") as directory:
        outputs = []
        samplers = []
        for pid in server_pids(APP):
            output = Path(directory) / f"{pid}.txt"
            outputs.append(output)
            command = [str(BIN / "py-spy"), "record", "--gil", "--nonblocking", "-r", str(rate), "-f", "raw"]
            command += ["-d", str(seconds + 2), "-p", str(pid), "-o", str(output)]
            samplers.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(1)  # py-spy attached
        result = run_wrk(base_url, request, connections=connections, seconds=seconds)  # type: ignore[arg-type]
        for sampler in samplers:
            sampler.wait()
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            for output in outputs:
                if output.exists():
                    (keep / output.name).write_bytes(output.read_bytes())
        counted: Counter[str] = Counter()
        for output in outputs:
            if not output.exists():
                continue
            for line in output.read_text(errors="replace").splitlines():
                stack, _, count = line.rpartition(" ")
                counted[step_of(stack)] += int(count)
    requests = round(result.requests_per_second * seconds)
    return Profile(requests=requests, seconds=seconds, samples_per_step=counted, rate=rate)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workload", choices=["W1", "W2", "W3"], default="W1")
    parser.add_argument("--seconds", type=int, default=15, help="of load per side and round")
    parser.add_argument("--rounds", type=int, default=2, help="hopla and floor alternated, samples summed")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--search-word", default="export", help="the W2 search word")
    parser.add_argument("--raw", type=Path, help="keep py-spy's raw stacks here (DIR/hopla-N, DIR/floor-N)")
    return parser.parse_args()


def main() -> None:
    arguments = _arguments()
    database = os.environ.get("BENCH_DATABASE", "hopla_bench_suite")
    from bench.processes import fake_cloudinary

    with fake_cloudinary() as cloudinary_url, tempfile.TemporaryDirectory(prefix="hopla-bench-") as logs:
        environment = server_environment(database, cloudinary_url)
        os.environ.update(environment, LOG_LEVEL="WARNING")
        import django

        django.setup()
        from bench import data, http_workloads
        from bench.load import run_wrk
        from bench.processes import web_server

        if not data.database_exists():
            data.database_create(projects=FULL.projects, tickets=FULL.tickets)
        world = data.world_create(0)
        workload = next(
            w
            for w in http_workloads.workloads(world.project.key, arguments.search_word)
            if w.name[:2] == arguments.workload
        )
        http_workloads.check_and_count(workload, world.token)
        with web_server("procfile", {**os.environ, **environment}, Path(logs)) as base_url:
            requests = {side: workload.request(path, world.token) for side, path in SIDES.items()}
            for request in requests.values():
                run_wrk(base_url, request, connections=arguments.connections, seconds=2)  # warm
            totals = {side: Profile(0, 0, Counter(), arguments.rate) for side in SIDES}
            for number in range(arguments.rounds):
                for side in list(SIDES) if number % 2 == 0 else list(SIDES)[::-1]:
                    measured = profile(
                        base_url,
                        requests[side],
                        seconds=arguments.seconds,
                        connections=arguments.connections,
                        rate=arguments.rate,
                        keep=arguments.raw / f"{side}-{number}" if arguments.raw else None,
                    )
                    totals[side].requests += measured.requests
                    totals[side].seconds += measured.seconds
                    totals[side].samples_per_step.update(measured.samples_per_step)
    _print(workload.name, totals, arguments)


def _print(name: str, totals: dict[str, Profile], arguments: argparse.Namespace) -> None:
    hopla, floor = totals["hopla"], totals["floor"]
    print(
        f"{name}: ms of GIL held per request, py-spy --gil at {arguments.rate}/s, wrk {arguments.connections} "
        f"connections, {arguments.rounds} x {arguments.seconds} s per side"
    )
    print(f"requests sampled: hopla {hopla.requests}, floor {floor.requests} (req/s slowed by the sampling)")
    width = max(len(step) for step, _ in STEPS)
    print(f"{'step'.ljust(width)} | hopla | floor | hopla - floor")
    print(f"{'-' * width}-|-------|-------|--------------")
    for step, _ in STEPS:
        mine, theirs = hopla.ms_per_request(step), floor.ms_per_request(step)
        print(f"{step.ljust(width)} | {mine:5.2f} | {theirs:5.2f} | {mine - theirs:+6.2f}")
    mine = sum(hopla.ms_per_request(step) for step, _ in STEPS)
    theirs = sum(floor.ms_per_request(step) for step, _ in STEPS)
    print(f"{'total'.ljust(width)} | {mine:5.2f} | {theirs:5.2f} | {mine - theirs:+6.2f}")
    print(f"floor / hopla CPU per request: {theirs / mine:.2f} (the req/s ratio a CPU-bound server would reach)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
