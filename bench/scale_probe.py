"""One database of `python -m bench --scale-compare`, probed in a process of its own (Django's default
connection is the database in DATABASE_URL): seeded if missing, a bench user made, W1's and W2's
requests made in this process with their SQL captured, and each statement's EXPLAIN (ANALYZE,
BUFFERS). Prints one JSON line for bench.scale_compare.

`python -m bench.scale_probe TICKETS PROJECTS SEARCH_WORD`
"""

import json
import sys
import time


def main() -> None:
    tickets, projects, search_word = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    import django

    django.setup()
    from django.db import connection

    from bench import data, http_workloads
    from tickets.models import Ticket

    started = time.monotonic()
    seeded = False
    if not data.database_exists():
        data.database_create(projects=projects, tickets=tickets)
        seeded = True
    seed_seconds = time.monotonic() - started
    world = data.world_create(0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [Ticket._meta.db_table])
        (estimated,) = cursor.fetchone()
    probes = []
    for workload in http_workloads.workloads(world.project.key, search_word)[:2]:
        status, body, statements = http_workloads.in_process(workload, http_workloads.API_PATH, world.token)
        assert status == 200, (workload.name, status)
        # Twice: the second plan is the one a warm server sees (the first reads the pages into the cache).
        for statement in statements:
            http_workloads.explain(statement)
        probes.append(
            {
                "name": workload.name,
                "query": workload.query,
                "count": body.get("count"),
                "results": len(body["results"]),
                "statements": [
                    {"sql": statement, "plan": http_workloads.explain(statement)} for statement in statements
                ],
            }
        )
    print(
        "SCALE "
        + json.dumps(
            {
                "database": connection.settings_dict["NAME"],
                "tickets": estimated,
                "seeded": seeded,
                "seed_seconds": round(seed_seconds),
                "token": world.token,
                "project": world.project.key,
                "workloads": probes,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
