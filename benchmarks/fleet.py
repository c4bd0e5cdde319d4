"""Fleet mode against DigitalOcean's rate limit: wall time, requests and 429s for 100 clusters.

    python -m benchmarks.fleet                       # 100 clusters, fake limit 60/min, time x60
    python -m benchmarks.fleet --clusters 200 --per-minute 120 --speedup 60 --json

A benchmark, not a test: it runs in real time. The project's fake DigitalOcean (in-process transport) counts
requests on a clock that runs ``--speedup`` times faster than the wall clock, with its per-minute limit scaled
down to ``--per-minute``; so one fake minute is 1 s of wall time and the run is bound by the rate limit, not by
the CPU. The client side lives in the same fake time: the limiter's windows are DigitalOcean's (60 s, 3600 s)
and every sleep (limiter, retry backoff) sleeps 1/speedup of what it asks for.

Scenarios (each on a fresh fake with the same 100 seeded clusters of mixed sizes, ``--size 50%``):
- first run, limiter on: list + (read pools + create) per cluster
- converged re-run, limiter on: list + read pools per cluster
- first run at concurrency 16, limiter on
- first run, limiter off: what collecting 429s and retrying (retry-after) costs, and how many clusters fail

``ideal`` is requests / allowed rate (per-minute limit / 60 fake-seconds): the time a perfectly paced client
needs. A sliding window lets the first minute's requests go at once, so a burst-then-wait client can beat it
by up to one window.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import httpx

from do_pgpool._fleet import PoolSize, PoolTemplate, ensure_fleet
from do_pgpool._gateway import DigitalOcean
from do_pgpool._limiter import RateLimiter, Window
from do_pgpool._retry import RetryConfig
from do_pgpool.testing import FakeClock, FakeDigitalOcean

SIZES = ["db-s-1vcpu-1gb", "db-s-1vcpu-2gb", "db-s-2vcpu-4gb", "db-s-4vcpu-8gb"]
TAG = "bench"


class ScaledClock(FakeClock):
    """Fake time that runs ``speedup`` times faster than the wall clock; ``sleep`` really sleeps, scaled."""

    def __init__(self, speedup: float) -> None:
        super().__init__()
        self.speedup = speedup
        self._origin = self.now_base = super().now()
        self._t0 = time.monotonic()
        self._offset = 0.0
        self._guard = threading.Lock()

    def now(self) -> float:
        with self._guard:
            return self._origin + self._offset + (time.monotonic() - self._t0) * self.speedup

    def advance(self, seconds: float) -> None:
        with self._guard:
            self._offset += max(seconds, 0.0)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.speedup)


class PassThrough:
    """No client-side limit at all: every request goes out and 429s are the server's way of saying no."""

    def acquire(self) -> None:
        return None

    def observe(self, status: int, headers: object) -> None:
        return None


@dataclass
class Row:
    scenario: str
    concurrency: int
    limiter: bool
    wall_s: float
    requests: int
    http_429: int
    ideal_s: float
    wall_vs_ideal: float
    failed_clusters: int
    client_waits: int


def seeded_fake(clusters: int, per_minute: int, per_hour: int, clock: FakeClock) -> FakeDigitalOcean:
    fake = FakeDigitalOcean(clock=clock, rate_limit_per_minute=per_minute, rate_limit_per_hour=per_hour)
    for i in range(clusters):
        fake.add_cluster(f"tenant-{i:03d}", size=SIZES[i % len(SIZES)], tags=[TAG])
    return fake


def run_once(
    fake: FakeDigitalOcean, clock: ScaledClock, *, limited: bool, concurrency: int, per_minute: int, per_hour: int
) -> tuple[float, int, int, int]:
    """(wall seconds, fleet requests, failed clusters, limiter waits)."""
    limiter: RateLimiter | PassThrough
    if limited:
        limiter = RateLimiter((Window(per_minute, 60.0), Window(per_hour, 3600.0)), clock=clock.now, sleep=clock.sleep)
    else:
        limiter = PassThrough()
    retry = RetryConfig(sleep=clock.sleep, clock=clock.now)
    with httpx.Client(transport=fake.http_transport()) as http:
        connect: Callable[[], DigitalOcean] = lambda: DigitalOcean(  # noqa: E731
            "bench-token", http=http, retry=retry, limiter=limiter
        )
        started = time.perf_counter()
        result = ensure_fleet(connect, PoolTemplate(PoolSize.parse("50%")), tag=TAG, concurrency=concurrency)
        wall = time.perf_counter() - started
    waits = limiter.stats.waits if isinstance(limiter, RateLimiter) else 0
    return wall, result.requests, len(result.failed), waits


def scenario(
    name: str, *, clusters: int, per_minute: int, per_hour: int, speedup: float, limited: bool, concurrency: int,
    rerun: bool = False,
) -> Row:
    clock = ScaledClock(speedup)
    fake = seeded_fake(clusters, per_minute, per_hour, clock)
    if rerun:  # converge first (limited), then wait out the window so the re-run starts with a fresh budget
        run_once(fake, clock, limited=True, concurrency=concurrency, per_minute=per_minute, per_hour=per_hour)
        clock.sleep(61.0)
    before = len(fake.calls)
    wall, requests, failed, waits = run_once(
        fake, clock, limited=limited, concurrency=concurrency, per_minute=per_minute, per_hour=per_hour
    )
    throttled = sum(1 for c in fake.calls[before:] if c.status == 429)
    ideal = requests / (per_minute / 60.0) / speedup
    return Row(name, concurrency, limited, round(wall, 2), requests, throttled, round(ideal, 2),
               round(wall / ideal, 2), failed, waits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--per-minute", type=int, default=60, help="the fake's per-minute limit (DO: 250)")
    parser.add_argument("--per-hour", type=int, default=5000, help="the fake's hourly limit (DO: 5000)")
    parser.add_argument("--speedup", type=float, default=60.0, help="fake seconds per wall-clock second")
    parser.add_argument("--json", action="store_true", help="one JSON object per scenario instead of a table")
    args = parser.parse_args()
    common = {"clusters": args.clusters, "per_minute": args.per_minute, "per_hour": args.per_hour,
              "speedup": args.speedup}
    rows = [
        scenario("first run", limited=True, concurrency=4, **common),
        scenario("converged re-run", limited=True, concurrency=4, rerun=True, **common),
        scenario("first run", limited=True, concurrency=16, **common),
        scenario("first run, no limiter", limited=False, concurrency=4, **common),
    ]
    if args.json:
        for row in rows:
            print(json.dumps(asdict(row)))
        return
    print(f"{args.clusters} clusters; fake limit {args.per_minute}/min, {args.per_hour}/h; "
          f"time x{args.speedup:g} (1 fake minute = {60 / args.speedup:g} s wall)")
    header = ["scenario", "conc", "limiter", "wall s", "requests", "429s", "ideal s", "wall/ideal", "failed",
              "waits"]
    table = [header] + [[r.scenario, str(r.concurrency), "on" if r.limiter else "off", f"{r.wall_s:.2f}",
                         str(r.requests), str(r.http_429), f"{r.ideal_s:.2f}", f"{r.wall_vs_ideal:.2f}",
                         str(r.failed_clusters), str(r.client_waits)] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


if __name__ == "__main__":
    main()
