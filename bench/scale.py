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
    webhook_events: int
    webhook_rounds: int
    board_requests: int  # W8: board page requests per round
    board_moves: int  # W8: live moves timed
    idempotent_posts: int  # W9: per side and round
    import_issues: int  # W9
    notify_updates: int
    notify_rounds: int


FULL = Scale(
    tickets=100_000,
    projects=20,
    rounds=5,
    seconds=5,
    connections=8,
    watchers=500,
    updates=50,
    jobs=100,
    job_rounds=9,  # one run's rounds moved 0.48-0.97 when the host slowed two phases (BENCHMARKS.md, W5)
    image_side=700,
    webhook_events=1_000,
    webhook_rounds=3,
    board_requests=30,
    board_moves=50,
    idempotent_posts=200,
    import_issues=10_000,
    notify_updates=200,
    notify_rounds=3,
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
    webhook_events=100,
    webhook_rounds=1,
    board_requests=10,
    board_moves=50,
    idempotent_posts=30,
    import_issues=1_000,
    notify_updates=20,
    notify_rounds=1,
)
