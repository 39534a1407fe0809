"""W1 and W2 at two sizes of data in one run: `python -m bench --scale-compare`.

Issue 21's target is that a request costs no more at 1 000 000 tickets than at 100 000 (within
1.2x). Two runs of the suite on a shared two-core machine differ by more than that, so both sizes
are measured in the same run: two databases (BENCH_DATABASE and BENCH_DATABASE_LARGE, seeded by
seed_demo when missing: the large one takes some ten minutes), each served by the Procfile's web
server with the same flags, and every round runs each workload against both, the order alternating.
Each round runs each side with the suite's connections, then with one; it prints both figures and
the ratio large/small of the time per request (small req/s over large req/s); the summary is the
median of the rounds' ratios. Before the rounds, the statements
of one request of each workload on each database (the count's included) with their EXPLAIN
(ANALYZE, BUFFERS), the second of two runs (warm, as a serving process sees them).
"""

import json
import math
import os
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from django.db import connection

from bench import http_workloads
from bench.environment import server_environment
from bench.load import LoadResult, Request, run_wrk
from bench.processes import ROOT, web_server

SMALL_TICKETS = 100_000
LARGE_TICKETS = 1_000_000
PROJECTS = 20


@dataclass(frozen=True)
class Size:
    label: str
    database: str
    tickets: int


def _probe(size: Size, cloudinary_url: str, search_word: str) -> dict:  # type: ignore[type-arg]
    environment = {**os.environ, **server_environment(size.database, cloudinary_url), "LOG_LEVEL": "WARNING"}
    completed = subprocess.run(
        [sys.executable, "-m", "bench.scale_probe", str(size.tickets), str(PROJECTS), search_word],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        raise SystemExit(f"probing {size.database} failed:\n{completed.stderr[-3000:]}")
    line = next(line for line in completed.stdout.splitlines() if line.startswith("SCALE "))
    return json.loads(line.removeprefix("SCALE "))  # type: ignore[no-any-return]


def _print_plans(size: Size, probe: dict) -> None:  # type: ignore[type-arg]
    seeded = f", seeded now in {probe['seed_seconds']} s" if probe["seeded"] else ""
    print(f"\n== {size.label}: {probe['database']}, about {probe['tickets']} tickets{seeded}", flush=True)
    for workload in probe["workloads"]:
        count = workload["count"]
        print(f"-- {workload['name']} {workload['query']}: count {count}, {workload['results']} on the page")
        for number, statement in enumerate(workload["statements"], 1):
            sql = " ".join(statement["sql"].split())
            print(f"  statement {number}: {sql[:300]}{' …' if len(sql) > 300 else ''}")
            print("\n".join(f"      {line}" for line in statement["plan"]))
    print(flush=True)


def run(
    *,
    small_database: str,
    large_database: str,
    cloudinary_url: str,
    search_word: str,
    rounds: int,
    seconds: float,
    connections: int,
    log_dir: Path,
) -> None:
    sizes = [Size("100k", small_database, SMALL_TICKETS), Size("1M", large_database, LARGE_TICKETS)]
    probes = {size.label: _probe(size, cloudinary_url, search_word) for size in sizes}
    for size in sizes:
        _print_plans(size, probes[size.label])
    workloads = http_workloads.workloads("", search_word)[:2]
    with ExitStack() as stack:
        urls = {
            size.label: stack.enter_context(
                web_server(
                    "procfile",
                    {**os.environ, **server_environment(size.database, cloudinary_url)},
                    log_dir,
                    name=size.label,
                )
            )
            for size in sizes
        }
        summary = []
        for workload in workloads:
            requests = {
                size.label: Request("GET", http_workloads.API_PATH + workload.query, probes[size.label]["token"])
                for size in sizes
            }
            for label, request in requests.items():  # connections opened, caches warm
                run_wrk(urls[label], request, connections=connections, seconds=2)
            print(f"== {workload.name}: GET {http_workloads.API_PATH}{workload.query}", flush=True)
            ratios: dict[str, list[float]] = {"loaded": [], "single": []}
            rates: dict[str, dict[str, list[float]]] = {mode: {"100k": [], "1M": []} for mode in ratios}
            for number in range(rounds):
                order = [size.label for size in sizes]
                if number % 2:
                    order.reverse()
                line = []
                for mode, clients in (("loaded", connections), ("single", 1)):
                    results = {}
                    for label in order:
                        results[label] = run_wrk(urls[label], requests[label], connections=clients, seconds=seconds)
                        _drain([size.database for size in sizes])
                    for label, result in results.items():
                        rates[mode][label].append(result.requests_per_second)
                    ratio = _cost_ratio(results["100k"], results["1M"])
                    ratios[mode].append(ratio)
                    line.append(
                        f"{clients} conn: "
                        + ", ".join(f"{label} {_figures(results[label])}" for label in ("100k", "1M"))
                        + f"; time per request 1M/100k {ratio:.3f}"
                    )
                print(f"round {number + 1} ({' then '.join(order)}): " + " | ".join(line), flush=True)
            for mode, clients in (("loaded", connections), ("single", 1)):
                summary.append(
                    (
                        f"{workload.name} ({clients} conn)",
                        {label: statistics.median(values) for label, values in rates[mode].items()},
                        statistics.median(ratios[mode]),
                        min(ratios[mode]),
                        max(ratios[mode]),
                    )
                )
    print("\nworkload                      | 100k req/s | 1M req/s | time per request 1M/100k: median (min-max)")
    for name, medians, median, low, high in summary:
        print(f"{name:29} | {medians['100k']:10.1f} | {medians['1M']:8.1f} | {median:.3f} ({low:.3f}-{high:.3f})")


def _drain(databases: list[str], *, limit: float = 120) -> None:
    """Wait until no statement runs on `databases`: wrk stops at its time, and the requests it leaves
    in flight (a W2 at 1M takes seconds) would otherwise still run during the next side's measurement."""
    deadline = time.monotonic() + limit
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = ANY(%s) AND state = 'active'"
                " AND pid <> pg_backend_pid()",
                [databases],
            )
            (active,) = cursor.fetchone()
            if active == 0:
                return
            time.sleep(0.2)


def _cost_ratio(small: LoadResult, large: LoadResult) -> float:
    """Time per request at 1M over time per request at 100k: small req/s over large req/s (infinite
    when the large side finished no request in the time given)."""
    if large.requests_per_second == 0:
        return math.inf
    return small.requests_per_second / large.requests_per_second


def _figures(result: LoadResult) -> str:
    errors = f" ({result.errors} errors, status {result.bad_status})" if result.errors else ""
    return f"{result.requests_per_second:.1f} req/s p50 {result.p50_ms:.1f} p99 {result.p99_ms:.1f} ms{errors}"
