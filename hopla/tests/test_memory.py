"""The worker keeps what a job frees for the next job: no page faulted in again per image."""

import subprocess
import sys
from pathlib import Path

from hopla.memory import MMAP_THRESHOLD_BYTES

# Allocates, fills and frees a 20 MiB block (an image job's pixels and bytes are a few MiB) ten times,
# after one warm-up, and prints the minor page faults per round. In a process of its own: the setting
# is process-wide and its effect depends on what the heap already holds.
_SCRIPT = """
import resource, sys
from hopla.memory import keep_freed_memory
if sys.argv[1] == "kept":
    assert keep_freed_memory()
size = 20 * 1024 * 1024
block = b"\\x01" * size
del block
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    block = b"\\x01" * size
    del block
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
"""


def _faults_per_round(mode: str) -> float:
    project = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, mode], cwd=project, capture_output=True, text=True, timeout=60, check=True
    )
    return float(result.stdout)


def test_freed_blocks_are_reused_instead_of_faulted_in_again():
    assert MMAP_THRESHOLD_BYTES > 20 * 1024 * 1024  # so such a block comes from the heap
    assert _faults_per_round("default") > 200  # glibc maps and unmaps it every time (~500 here)
    assert _faults_per_round("kept") < 50
