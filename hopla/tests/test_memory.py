"""The worker keeps what a job frees for the next job: no page faulted in again per image.

glibc gives large blocks (an image's pixels, its bytes: megabytes per image job) their own mmap and
returns them on free, and trims the free top of its heap back to the kernel, so the next job touches
every page anew: ~2 800 minor page faults per 1200x1200 image job in the worker, 1 or 2 with the
Procfile's `MALLOC_MMAP_THRESHOLD_` and `MALLOC_TRIM_THRESHOLD_` (BENCHMARKS.md, issue 20's section).
glibc reads them only when a process starts, so the Procfile and compose start the worker with them.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Allocates, fills and frees a 20 MiB block (an image job's pixels and bytes are a few MiB) ten times,
# after one warm-up, and prints the minor page faults per round. In a process of its own: glibc reads
# the variables at start, and the effect depends on what the heap already holds.
_SCRIPT = """
import resource
size = 20 * 1024 * 1024
block = b"\\x01" * size
del block
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    block = b"\\x01" * size
    del block
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
"""


def _worker_command() -> list[str]:
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("worker:"))
    return shlex.split(line.partition(":")[2])


def _malloc_variables() -> dict[str, str]:
    """The `env NAME=value` assignments the Procfile's worker line starts with."""
    words = _worker_command()
    assert words[0] == "env", "the worker must start with glibc's malloc variables"
    return dict(word.split("=", 1) for word in words[1 : words.index("python")])


def _faults_per_round(variables: dict[str, str]) -> float:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("MALLOC_")}
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        env={**environment, **variables},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return float(result.stdout)


def test_the_procfile_worker_reuses_freed_blocks_instead_of_faulting_them_in_again():
    variables = _malloc_variables()
    assert set(variables) == {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"}
    assert int(variables["MALLOC_MMAP_THRESHOLD_"]) > 20 * 1024 * 1024  # so such a block comes from the heap
    assert _faults_per_round({}) > 200  # glibc maps and unmaps it every time (~500 here)
    assert _faults_per_round(variables) < 50


def test_compose_starts_the_worker_with_the_same_variables():
    assignments = " ".join(f"{name}={value}" for name, value in _malloc_variables().items())
    compose = (ROOT / "docker-compose.yml").read_text()
    worker_commands = [line for line in compose.splitlines() if re.search(r"\brqworker\b", line)]
    assert worker_commands
    assert all(f"env {assignments} python manage.py rqworker" in line for line in worker_commands)
