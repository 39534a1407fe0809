"""Run the suite: `python -m bench` (full), `python -m bench --quick` (every workload briefly, for CI).

It creates its own database (hopla_bench_suite or hopla_bench_suite_quick) and uses Redis db 7 and the channel
prefix `hopla-bench`; it starts the bench server (bench.asgi, production-like settings), a real RQ
worker, the fake Cloudinary and W6's webhook receiver, and stops and drops all of them at the end.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.environment import server_environment
from bench.scale import FULL, QUICK


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data, every workload briefly (CI)")
    parser.add_argument(
        "--servers",
        nargs="*",
        metavar="SETUP",
        help="also compare server setups on W1 and W4 (no names: all of them)",
    )
    parser.add_argument(
        "--only", nargs="+", choices=["W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "W9"], help="run only these"
    )
    parser.add_argument("--reuse-db", action="store_true", help="keep and reuse the seeded database (development)")
    parser.add_argument("--search-word", default="export", help="the W2 search word")
    parser.add_argument(
        "--scale-compare",
        action="store_true",
        help=(
            "only W1 and W2, at 100 000 tickets (BENCH_DATABASE) and 1 000 000 (BENCH_DATABASE_LARGE, default"
            " <BENCH_DATABASE>_1m) in alternating rounds, with their plans (bench.scale_compare); databases kept"
        ),
    )
    return parser.parse_args()


def _with_the_workers_malloc_settings() -> None:
    """Start again with the worker's glibc variables from the Procfile (glibc reads them only at start), so
    that W5's loop allocates as the worker does."""
    from bench.processes import procfile_environment

    malloc = procfile_environment("worker")
    if any(os.environ.get(name) != value for name, value in malloc.items()):
        os.execve(sys.executable, [sys.executable, "-m", "bench", *sys.argv[1:]], {**os.environ, **malloc})


def main() -> None:
    arguments = _arguments()
    _with_the_workers_malloc_settings()
    scale = QUICK if arguments.quick else FULL
    database = "hopla_bench_suite_quick" if arguments.quick else "hopla_bench_suite"
    database = os.environ.get("BENCH_DATABASE", database)
    started = time.monotonic()
    from bench.processes import SERVER_SETUPS, fake_cloudinary

    with fake_cloudinary() as cloudinary_url, tempfile.TemporaryDirectory(prefix="hopla-bench-") as logs:
        environment = server_environment(database, cloudinary_url)
        # The servers log a line per request, as in production; this process only its warnings.
        os.environ.update(environment, LOG_LEVEL="WARNING")
        import django

        django.setup()
        if arguments.scale_compare:
            from bench import scale_compare

            scale_compare.run(
                small_database=database,
                large_database=os.environ.get("BENCH_DATABASE_LARGE", f"{database}_1m"),
                cloudinary_url=cloudinary_url,
                search_word=arguments.search_word,
                rounds=scale.rounds,
                seconds=scale.seconds,
                connections=scale.connections,
                log_dir=Path(logs),
            )
            print(f"bench finished in {time.monotonic() - started:.0f} s")
            return
        from bench import runner

        setups = None
        if arguments.servers is not None:
            setups = arguments.servers or SERVER_SETUPS
        try:
            runner.run(
                scale=scale,
                only=set(arguments.only or ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "W9"]),
                setups=setups,
                reuse_db=arguments.reuse_db,
                search_word=arguments.search_word,
                env={**os.environ, **environment},
                log_dir=Path(logs),
                quick=arguments.quick,
            )
        except BaseException:
            print(f"server and worker logs were in {logs}; the tail of each:", file=sys.stderr)
            for log in sorted(Path(logs).glob("*.log")):
                print(f"--- {log.name}", *log.read_text(errors="replace").splitlines()[-15:], sep="\n", file=sys.stderr)
            raise
    print(f"bench finished in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
