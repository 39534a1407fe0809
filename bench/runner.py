"""The run itself, once Django is set up: data, processes, workloads, the printed tables."""

import contextlib
import json
import platform
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection

from bench import board, data, data_io, deliveries, fanout, http_workloads, images, notifying, raw_floor_config
from bench.processes import HTTP_ONLY_SETUPS, raw_floor_server, rq_worker, server_command, web_server
from bench.report import Row, table
from bench.scale import Scale


def _flush_redis() -> None:
    redis.Redis.from_url(settings.REDIS_URL).flushdb()


def _machine() -> str:
    cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    memory = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.splitlines()[1].split()[1]
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return f"{cores} cores, {memory} memory, Python {platform.python_version()}, {date}"


def _section(title: str) -> None:
    print(f"\n== {title}", flush=True)


def run(
    *,
    scale: Scale,
    only: set[str],
    setups: list[str] | None,
    reuse_db: bool,
    search_word: str,
    env: dict[str, str],
    log_dir: Path,
    quick: bool,
) -> None:
    print(f"machine: {_machine()}", flush=True)
    started = time.monotonic()
    if not (reuse_db and data.database_exists()):
        data.database_create(projects=scale.projects, tickets=scale.tickets)
    print(
        f"database {settings.DATABASES['default']['NAME']}: {scale.tickets} tickets in {scale.projects} projects "
        f"({time.monotonic() - started:.0f} s)",
        flush=True,
    )
    _flush_redis()
    # The seeded history notifies nobody (no watchers): the worker starts past it, not reading it meanwhile.
    notifying.cursor_to_newest()
    world = data.world_create(scale.watchers)
    rows: list[Row] = []
    try:
        with rq_worker(env, log_dir) as worker:
            with web_server("procfile", env, log_dir) as base_url:
                _http_workloads(scale, only, search_word, world, base_url, rows, env, log_dir)
                if "W4" in only:
                    _section(f"W4: one update to {scale.watchers} WebSocket clients, {scale.updates} times")
                    fanout.run(
                        base_url=base_url,
                        token=world.token,
                        watcher_tokens=world.watcher_tokens,
                        project_id=str(world.project.pk),
                        ticket_key=world.ticket.key,
                        updates=scale.updates,
                        rows=rows,
                    )
                if "W5" in only:
                    _section(f"W5: {scale.jobs} image jobs x {scale.job_rounds} rounds")
                    images.run(
                        base_url=base_url,
                        token=world.token,
                        ticket_key=world.ticket.key,
                        jobs=scale.jobs,
                        rounds=scale.job_rounds,
                        image_side=scale.image_side,
                        rows=rows,
                    )
                if "W6" in only:
                    hooks, events = deliveries.HOOKS, scale.webhook_events
                    _section(f"W6: {events} events to {hooks} webhooks, {scale.webhook_rounds} rounds")
                    deliveries.run(
                        base_url=base_url,
                        user=world.user,
                        token=world.token,
                        worker=worker,
                        env=env,
                        events=scale.webhook_events,
                        rounds=scale.webhook_rounds,
                        seconds=scale.seconds,
                        latency_rounds=scale.rounds,
                        log_dir=log_dir,
                        rows=rows,
                    )
                if "W8" in only:
                    _section(f"W8: the board of {board.TICKETS} tickets, {scale.board_moves} live moves")
                    board.run(
                        base_url=base_url,
                        user=world.user,
                        token=world.token,
                        rounds=scale.rounds,
                        requests=scale.board_requests,
                        moves=scale.board_moves,
                        rows=rows,
                    )
                if "W9" in only:
                    _section(
                        f"W9: export of {scale.tickets} tickets, idempotent POSTs,"
                        f" import of {scale.import_issues} issues"
                    )
                    data_io.run_export(
                        base_url=base_url,
                        user=world.user,
                        token=world.token,
                        tickets=scale.tickets,
                        rounds=scale.rounds,
                        rows=rows,
                    )
                    data_io.run_idempotent_post(
                        base_url=base_url,
                        user=world.user,
                        token=world.token,
                        project=world.project,
                        rounds=scale.rounds,
                        requests=scale.idempotent_posts,
                        rows=rows,
                    )
                    data_io.run_import(
                        base_url=base_url,
                        token=world.token,
                        issues=scale.import_issues,
                        rows=rows,
                    )
                    print(table(rows[-5:], ""), flush=True)
                if "W7" in only:
                    _section(
                        f"W7: a ticket with {notifying.WATCHERS} watchers, {scale.notify_updates} updates a side, "
                        f"{scale.notify_rounds} rounds"
                    )
                    notifying.run(
                        base_url=base_url,
                        token=world.token,
                        worker=worker,
                        project=world.project,
                        watchers=world.watchers,
                        updates=scale.notify_updates,
                        rounds=scale.notify_rounds,
                        rows=rows,
                    )
            print()
            print(table(rows, "hopla against its floor (the Procfile's web command; medians of interleaved rounds)"))
            _server_errors(log_dir)
            if setups:
                _compare_servers(scale, setups, only, world, env, log_dir)
    finally:
        if not reuse_db:
            data.database_drop()
        _flush_redis()


def _server_errors(log_dir: Path) -> None:
    """5xx answers and error lines in the servers' logs, counted: what broke, in a few lines."""
    counted: Counter[str] = Counter()
    for log in log_dir.glob("web-*.log"):
        for line in log.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("status", 0) >= 500 or entry.get("level") == "ERROR":
                exception = str(entry.get("exception", "")).strip().splitlines()[-1:] or [""]
                counted[f"{log.name}: {entry.get('message', '')[:100]} {exception[0][:200]}"] += 1
    for what, count in counted.most_common(10):
        print(f"server log: {count} x {what}")


def _http_workloads(
    scale: Scale,
    only: set[str],
    search_word: str,
    world: data.World,
    base_url: str,
    rows: list[Row],
    env: dict[str, str],
    log_dir: Path,
) -> None:
    selected = [w for w in http_workloads.workloads(world.project.key, search_word) if w.name.split()[0] in only]
    # W1's and W2's framework-free floor: hopla's statements captured first, then its own server.
    gets = [workload for workload in selected if workload.method == "GET"]
    with contextlib.ExitStack() as stack:
        raw_base_url = None
        if gets:
            config = log_dir / "raw-floor.json"
            raw_floor_config.write(
                config,
                user=world.user,
                token=world.token,
                query_strings=[workload.query.removeprefix("?") for workload in gets],
                pool_size=scale.connections,
            )
            raw_base_url = stack.enter_context(raw_floor_server(env, log_dir, config))
        for workload in selected:
            _http_workload(workload, scale, world, base_url, raw_base_url if workload in gets else None, rows)


def _http_workload(
    workload: http_workloads.HttpWorkload,
    scale: Scale,
    world: data.World,
    base_url: str,
    raw_base_url: str | None,
    rows: list[Row],
) -> None:
    _section(f"{workload.name}: {workload.method} {http_workloads.API_PATH}{workload.query}")
    hopla_queries, floor_queries, statements = http_workloads.check_and_count(workload, world.token)
    print(f"same JSON as the floor: yes; queries per request: hopla {hopla_queries}, floor {floor_queries}")
    if raw_base_url is not None:
        length = http_workloads.raw_floor_check(
            workload, base_url=base_url, raw_base_url=raw_base_url, token=world.token
        )
        print(f"same bytes from the framework-free floor: yes ({length} bytes)")
    if workload.method == "GET":
        page = statements[-1]
        print("EXPLAIN ANALYZE of hopla's page query:")
        print("\n".join(f"    {line}" for line in http_workloads.explain(page)))
        if workload.name.startswith("W2"):
            print("EXPLAIN ANALYZE of hopla's count query:")
            print("\n".join(f"    {line}" for line in http_workloads.explain(statements[-2])))
    first = len(rows)
    http_workloads.run(
        workload,
        base_url=base_url,
        token=world.token,
        rounds=scale.rounds,
        seconds=scale.seconds,
        connections=scale.connections,
        rows=rows,
        latency=workload.latency,
        raw_base_url=raw_base_url,
    )
    queries = Row(workload.name, "queries/request")
    queries.add(hopla_queries, floor_queries)
    rows.append(queries)
    print(table(rows[first:], ""), flush=True)
    if workload.name.startswith("W1"):
        _conditional(workload, scale, world, base_url, raw_base_url, rows)
        _deep_page(scale, world, base_url, rows)


def _conditional(
    workload: http_workloads.HttpWorkload,
    scale: Scale,
    world: data.World,
    base_url: str,
    raw_base_url: str | None,
    rows: list[Row],
) -> None:
    """W1 asked again with the ETag of its answer: hopla's 304 against the floors' whole page."""
    conditional = http_workloads.HttpWorkload("W1 list 304", "GET", workload.query)
    _section(f"{conditional.name}: GET {http_workloads.API_PATH}{workload.query} with If-None-Match")
    hopla_request = http_workloads.conditional_request(conditional, base_url=base_url, token=world.token)
    print("hopla answers 304 to its own ETag: yes; the floors answer the page")
    first = len(rows)
    http_workloads.run(
        conditional,
        base_url=base_url,
        token=world.token,
        rounds=scale.rounds,
        seconds=scale.seconds,
        connections=scale.connections,
        rows=rows,
        raw_base_url=raw_base_url,
        hopla_request=hopla_request,
    )
    print(table(rows[first:], ""), flush=True)


def _deep_page(scale: Scale, world: data.World, base_url: str, rows: list[Row]) -> None:
    deep = http_workloads.deep_page(world.user, scale.tickets)
    _section(f"{deep.name}: GET {http_workloads.API_PATH}{deep.offset_query} against the same page by cursor")
    offset_queries, cursor_queries = http_workloads.deep_page_check(deep, world.token)
    print(f"same tickets by offset and by cursor: yes; queries per request: {offset_queries} and {cursor_queries}")
    http_workloads.deep_page_run(
        deep, base_url=base_url, token=world.token, rounds=scale.rounds, seconds=scale.seconds / 2, rows=rows
    )
    queries = Row(deep.name, "queries/request")
    queries.add(offset_queries, cursor_queries)
    rows.append(queries)
    print(table(rows[-4:], ""), flush=True)


def _compare_servers(
    scale: Scale, setups: list[str], only: set[str], world: data.World, env: dict[str, str], log_dir: Path
) -> None:
    """W1 and W4 on each server setup; the floor and the bare group_send run on the same setup."""
    w1 = http_workloads.workloads(world.project.key, "")[0]
    # W3 and W5 added thousands of rows newer than the statistics: without a fresh ANALYZE the list's
    # plan can flip to joining every ticket before sorting (see BENCHMARKS.md), which is not a server's doing.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    lines = []
    for setup in setups:
        _section(f"server setup {setup}")
        if not shutil.which(server_command(setup, 0)[0]):
            print(f"{setup}: not installed, skipped (see BENCHMARKS.md for the pins)")
            continue
        rows: list[Row] = []
        with web_server(setup, env, log_dir) as base_url:
            if "W1" in only:
                http_workloads.run(
                    w1,
                    base_url=base_url,
                    token=world.token,
                    rounds=max(3, scale.rounds - 2),
                    seconds=scale.seconds,
                    connections=scale.connections,
                    rows=rows,
                )
            if "W4" not in only or setup in HTTP_ONLY_SETUPS:
                if "W4" in only:
                    print(f"{setup}: HTTP over WSGI, no WebSocket: W4 skipped (and the setup left out of the summary)")
                print(table(rows, setup), flush=True)
                continue
            fanout.run(
                base_url=base_url,
                token=world.token,
                watcher_tokens=world.watcher_tokens,
                project_id=str(world.project.pk),
                ticket_key=world.ticket.key,
                updates=max(10, scale.updates // 2),
                rows=rows,
            )
        print(table(rows, setup), flush=True)
        lines.append((setup, rows))
    print()
    if {"W1", "W4"} - only:
        return  # the summary needs both
    header = (
        "setup                | W1 req/s | floor req/s | ratio | W1 p50 ms | W4 p50 ms | W4 p99 ms | bare p50 ms | lost"
    )
    print(header)
    print("-" * len(header))
    for setup, rows in lines:
        throughput, p50, _, w4_p50, w4_p99, lost = rows
        print(
            f"{setup:20} | {_median(throughput.hopla):8.0f} | {_median(throughput.reference):11.0f} | "
            f"{throughput.ratio or 0:5.2f} | {_median(p50.hopla):9.1f} | {_median(w4_p50.hopla):9.1f} | "
            f"{_median(w4_p99.hopla):9.1f} | {_median(w4_p50.reference):11.1f} | {_median(lost.hopla):4.0f}"
        )


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else float("nan")
