"""HTTP load from a second process: wrk (C, one thread), scripted in Lua to report as JSON.

wrk rather than a Python client: on two cores the load generator competes with the server for CPU,
and wrk spends a small fraction of what an asyncio client spends per request, so more of the machine
measures the server. Latency is taken from a separate one-connection run: under saturation a closed
loop's latency is only concurrency divided by throughput.
"""

import json
import shutil
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_REPORT = """
local threads = {}
setup = function(thread) table.insert(threads, thread) end
bad_status = 0
response = function(status, headers, body)
  if status >= 300 and status ~= expected_status then bad_status = status end
end
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  local last_bad = 0
  for _, thread in ipairs(threads) do
    if thread:get("bad_status") ~= 0 then last_bad = thread:get("bad_status") end
  end
  io.write(string.format(
    'BENCH {"requests": %d, "seconds": %f, "errors": %d, "bad_status": %d, "p50_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration / 1e6, errors, last_bad, latency:percentile(50), latency:percentile(99)))
  -- Every latency seen, as [microseconds, count] pairs, so that rounds can be pooled: the p99 of one
  -- short round of a slow request is its slowest request or two.
  local seen = {}
  for i = 1, #latency do
    local value, count = latency(i)
    seen[#seen + 1] = string.format("[%d,%d]", value, count)
  end
  io.write("LATENCIES [" .. table.concat(seen, ",") .. "]\\n")
end
"""


# Each request takes the next body of the list, in turn.
_BODIES = """
local sent = 0
request = function()
  sent = sent + 1
  return wrk.format(nil, nil, nil, bodies[sent % #bodies + 1])
end
"""


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    token: str
    body: str | None = None
    # Bodies sent in turn instead of `body`: a PATCH that sends what the ticket already holds changes
    # nothing and writes no event, so W6 alternates two titles.
    bodies: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()  # more request headers (If-None-Match)
    expected_status: int = 0  # a status of 300 or more that is not an error here (304)

    def lua(self) -> str:
        lines = [
            f'wrk.method = "{self.method}"',
            f'wrk.headers["Authorization"] = "Bearer {self.token}"',
            *(f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}" for name, value in self.headers),
            f"expected_status = {self.expected_status}",
        ]
        if self.body is not None or self.bodies:
            lines.append('wrk.headers["Content-Type"] = "application/json"')
        if self.body is not None:
            lines.append(f"wrk.body = {json.dumps(self.body)}")
        if self.bodies:
            lines.append(f"bodies = {{{', '.join(json.dumps(body) for body in self.bodies)}}}")
            lines.append(_BODIES)
        return "\n".join(lines) + "\n" + _REPORT


@dataclass(frozen=True)
class LoadResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    bad_status: int  # one of the non-2xx statuses seen, 0 if none
    latencies_us: Counter[int]  # microseconds -> requests that took that long


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(base_url: str, request: Request, *, connections: int, seconds: float) -> LoadResult:
    if not wrk_available():
        raise SystemExit("wrk is needed for the HTTP workloads: apt-get install wrk")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(request.lua())
    try:
        completed = subprocess.run(
            [
                "wrk",
                "--threads",
                "1",
                "--connections",
                str(connections),
                "--duration",
                f"{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "--script",
                script.name,
                base_url + request.path,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        Path(script.name).unlink()
    line = next(line for line in completed.stdout.splitlines() if line.startswith("BENCH "))
    report = json.loads(line.removeprefix("BENCH "))
    latencies = next(line for line in completed.stdout.splitlines() if line.startswith("LATENCIES "))
    latencies_us: Counter[int] = Counter()
    for value, count in json.loads(latencies.removeprefix("LATENCIES ")):
        latencies_us[value] += count
    return LoadResult(
        requests_per_second=report["requests"] / report["seconds"],
        p50_ms=report["p50_us"] / 1000,
        p99_ms=report["p99_us"] / 1000,
        errors=report["errors"],
        bad_status=report["bad_status"],
        latencies_us=latencies_us,
    )
