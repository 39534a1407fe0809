"""Keeping the memory a job frees for the next job, instead of handing it back to the kernel.

glibc gives large blocks (an image's pixels, its bytes: megabytes per image job) their own mmap and
returns them on free, and trims the free top of its heap back to the kernel; the next job then
touches every page anew. In the worker that was ~940 minor page faults (3.7 MB) and ~3 ms of every
image job, while the same function called in a loop by another process happened to fault none
(bench/ W5, BENCHMARKS.md "Image jobs"). Whether a process hits it depends on what else sits on its
heap, so the worker sets it once, on purpose. The cost is bounded: at most `TRIM_THRESHOLD_BYTES` of
freed memory stays with the process.
"""

import ctypes
import logging

logger = logging.getLogger("hopla.jobs")

# mallopt() parameters (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

# Blocks below this come from the heap and are reused (glibc's own ceiling for it is 32 MiB on 64-bit).
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
# Free memory at the top of the heap is returned to the kernel only beyond this.
TRIM_THRESHOLD_BYTES = 128 * 1024 * 1024


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to keep freed memory for reuse; False where there is no glibc to tell."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    # mallopt answers 1 on success, 0 on an unknown parameter (musl's stub answers 0 to everything).
    applied = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
    if not applied:
        logger.info("malloc tuning not available here: freed memory goes back to the kernel as usual")
    return applied
