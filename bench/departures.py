"""What hopla's three replaced departures still gain over the plainest public path (BENCHMARKS.md, "Contain").

    python -m bench.departures cache        # the write throttle's Redis call per request
    python -m bench.departures statements   # the JWT user lookup and the list's count, per call
    python -m bench.departures faults       # minor page faults per image job in the Procfile's worker

On hopla.settings.base with the caller's DATABASE_URL (a migrated PostgreSQL database) and REDIS_URL.
`cache` and `statements` time each variant in interleaved rounds in this one process (the order
shuffled every round) and print the median per call and each variant's ratio to the first, with the
rounds' range. `--only VARIANT` runs one variant `--calls` times and nothing else, for
`valgrind --tool=callgrind` (instructions per call: the difference of two runs with different
`--calls`, divided by the difference of calls).
"""

import argparse
import contextvars
import os
import random
import shlex
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _cache_variants() -> dict[str, dict[str, Callable[[], object]]]:
    """One throttled write per call, in a context of its own as each ASGI request is: hopla's cache
    (django-redis with hopla.cache's factory, as configured) and django-redis as it comes."""
    from django.conf import settings
    from django.core.cache import caches
    from django.test import override_settings
    from django_redis import get_redis_connection

    from hopla.api.throttling import _SLIDING_WINDOW, _SLIDING_WINDOW_SHA

    configured = settings.CACHES["default"]
    plain_options = {name: value for name, value in configured["OPTIONS"].items() if name != "CONNECTION_FACTORY"}
    override_settings(CACHES={"default": configured, "plain": {**configured, "OPTIONS": plain_options}}).enable()

    def write(alias: str) -> None:
        key = caches[alias].make_and_validate_key("throttle_user_write_bench:window")
        client = get_redis_connection(alias)
        client.evalsha(_SLIDING_WINDOW_SHA, 1, key, repr(time.time()), 60, 10**9, uuid.uuid4().hex)

    get_redis_connection("default").script_load(_SLIDING_WINDOW)

    return {
        "throttled write": {
            "hopla (django-redis + hopla.cache)": lambda: contextvars.Context().run(write, "default"),
            "django-redis alone": lambda: contextvars.Context().run(write, "plain"),
        }
    }


def _statement_variants() -> dict[str, dict[str, Callable[[], object]]]:
    """hopla's SQL strings and the ORM calls they stand for, on the first user of the database."""
    from django.db.models import Sum
    from django.db.models.functions import Coalesce

    from accounts.models import User
    from hopla.api.authentication import user_by_id
    from tickets import selectors
    from tickets.models import Membership, Project

    user = User.objects.order_by("pk").first()
    if user is None:
        raise SystemExit("no user in this database: seed it (manage.py seed_demo)")
    tickets = selectors.ticket_list(user=user)

    def orm_total() -> int:
        my_projects = Membership.objects.filter(user=user).values("project_id")
        return Project.objects.filter(pk__in=my_projects).aggregate(total=Coalesce(Sum("ticket_count"), 0))["total"]

    return {
        "user lookup": {
            "hopla (SQL)": lambda: user_by_id(user.pk),
            "ORM get()": lambda: User.objects.get(pk=user.pk),
        },
        "list count": {
            "hopla (SQL)": lambda: selectors.ticket_count(user=user, tickets=tickets, filtered=False),
            "ORM aggregate()": orm_total,
        },
    }


def _microseconds_per_call(call: Callable[[], object], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - started) / calls * 1e6


def _interleaved(groups: dict[str, dict[str, Callable[[], object]]], rounds: int, calls: int) -> None:
    """Each variant's median µs per call, and its ratio to its group's first variant (median, range of rounds)."""
    variants = {(group, name): call for group, members in groups.items() for name, call in members.items()}
    for call in variants.values():
        _microseconds_per_call(call, calls // 5 + 1)  # warm-up
    results: dict[tuple[str, str], list[float]] = {variant: [] for variant in variants}
    for _ in range(rounds):
        for variant in random.sample(list(variants), len(variants)):
            results[variant].append(_microseconds_per_call(variants[variant], calls))
    for group, members in groups.items():
        base = results[(group, next(iter(members)))]
        for name in members:
            ratios = [value / reference for value, reference in zip(results[(group, name)], base, strict=True)]
            print(
                f"{group}, {name}: {statistics.median(results[(group, name)]):.1f} µs/call, "
                f"ratio {statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
            )


def _faults(jobs: int) -> None:
    """Minor page faults per image job in the Procfile's worker, with and without the Procfile's
    malloc variables: the worker is started, left idle, then given `jobs` JPEG jobs three times."""
    from django.db import transaction

    from accounts.models import User
    from bench.images import noisy_jpeg
    from bench.processes import procfile_command, procfile_environment
    from tickets.image_validation import validate_image_bytes
    from tickets.models import Image, ImageStatus
    from tickets.services.images import image_upload
    from tickets.services.projects import project_create
    from tickets.services.tickets import ticket_create

    suffix = uuid.uuid4().hex[:8].upper()
    user = User.objects.create_user(email=f"faults-{suffix}@bench.invalid", password=None, full_name="Bench")
    project = project_create(actor=user, key=f"F{suffix}", name="Page faults")
    ticket, _ = ticket_create(project_reference=project.key, actor=user, title="Page faults")
    photo = validate_image_bytes(noisy_jpeg(1200))
    command = procfile_command("worker")
    malloc = procfile_environment("worker")
    plain = command[command.index(sys.executable) :]
    base_env = {name: value for name, value in os.environ.items() if name not in malloc}
    for label, words in (
        ("without the Procfile's variables", plain),
        (shlex.join(f"{n}={v}" for n, v in malloc.items()), command),
    ):
        worker = subprocess.Popen(words, cwd=ROOT, env=base_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(4)  # started and idle; `env` execs the interpreter, so the pid is the worker's
            per_job = []
            for _ in range(3):
                before = _minor_faults(worker.pid)
                with transaction.atomic():
                    ids = [
                        image_upload(ticket=ticket, uploader=user, upload=photo, filename="p.jpg").pk
                        for _ in range(jobs)
                    ]
                while Image.objects.filter(pk__in=ids, status=ImageStatus.READY).count() < jobs:
                    time.sleep(0.2)
                per_job.append(round((_minor_faults(worker.pid) - before) / jobs))
            print(f"{label}: minor page faults per job, three rounds of {jobs}: {per_job}")
        finally:
            worker.terminate()
            worker.wait()


def _minor_faults(pid: int) -> int:
    # /proc/<pid>/stat: the 10th field, minflt (the 2nd, the command, may hold spaces).
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[7])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.departures", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("measure", choices=["cache", "statements", "faults"])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=300, help="calls per variant per round (faults: jobs per round)")
    parser.add_argument("--only", metavar="GROUP: VARIANT", help="run only this variant --calls times (callgrind)")
    arguments = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hopla.settings.base")
    import django

    django.setup()
    if arguments.measure == "faults":
        _faults(arguments.calls)
        return
    variants = _cache_variants() if arguments.measure == "cache" else _statement_variants()
    if arguments.only:
        group, _, name = arguments.only.partition(": ")
        call = variants[group][name]
        _microseconds_per_call(call, 50)
        _microseconds_per_call(call, arguments.calls)
    else:
        _interleaved(variants, arguments.rounds, arguments.calls)


if __name__ == "__main__":
    main()
