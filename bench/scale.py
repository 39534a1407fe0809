"""How big a run is: the full suite and the quick one CI runs."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    tickets: int
    projects: int
    rounds: int
    seconds: float
    connections: int
    watchers: int
    updates: int
    jobs: int
    job_rounds: int
    image_side: int


FULL = Scale(
    tickets=100_000,
    projects=20,
    rounds=5,
    seconds=5,
    connections=8,
    watchers=500,
    updates=50,
    jobs=100,
    job_rounds=5,  # three left the median of a 0.76-0.84 spread to chance (BENCHMARKS.md, W5)
    image_side=700,
)
QUICK = Scale(
    tickets=5_000,
    projects=20,
    rounds=3,
    seconds=2,
    connections=8,
    watchers=100,
    updates=10,
    jobs=10,
    job_rounds=1,
    image_side=700,
)
