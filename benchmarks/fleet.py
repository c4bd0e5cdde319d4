"""Fleet mode under a rate limit scaled down so it can be measured: 429s and wall time against the ideal.

    python -m benchmarks.fleet                  # 20 clusters, --concurrency 4, 10 requests per 2.5 s
    python -m benchmarks.fleet --clusters 40 --limit 20 --window 5 --json

A benchmark, not a test: it runs in real time against the project's fake DigitalOcean served on loopback (a
real HTTP server in a thread, real sockets, the wall clock). The fake's quota is ``--limit`` requests per
``--window`` seconds (a sliding window, like DigitalOcean's 250 a minute scaled down), advertised in
``ratelimit-limit/remaining/reset`` with whole-second resets as DigitalOcean sends them. Each scenario seeds a
fresh fake with the same clusters and runs ``ensure_fleet`` (read pools + create per cluster, after one
listing) with ``--size 50%``:

- limiter told the window: ``RateLimiter((Window(limit, window),))``, paced by its own window and the headers
- headers only: the CLI's default limiter (DigitalOcean's 250/min and 5,000/h), which knows nothing of this
  window and is paced by the answers alone: remaining, the reset second, and the window it learns from them
- no limiter: every request goes out; 429s and their retry-after are the server's way of saying no

``ideal`` is requests / (limit / window), counting every request but the 429s (the work to do): the time a
perfectly paced client needs. ``wall`` runs from the first
request to the end of the run (building the clients is not rate-limited and not counted). The goal (issue 12):
at most one 429 and wall <= 1.2 x ideal.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import httpx

from do_pgpool.api._gateway import DigitalOcean
from do_pgpool.api._limiter import RateLimiter, Window
from do_pgpool.ops._fleet import ensure_fleet
from do_pgpool.ops._pool_plan import PoolRequest, PoolSize
from do_pgpool.testing import FakeDigitalOcean
from do_pgpool.testing._clock import SystemClock

SIZES = ["db-s-1vcpu-1gb", "db-s-1vcpu-2gb", "db-s-2vcpu-4gb", "db-s-4vcpu-8gb"]
TAG = "bench"
TOKEN = "bench-token"


class PassThrough:
    """No client-side limit at all."""

    def acquire(self) -> None:
        return None

    def observe(self, status: int, headers: object) -> None:
        return None


class FirstRequest:
    """Wraps a limiter and notes when the first request left (the wall time starts there)."""

    def __init__(self, inner: RateLimiter | PassThrough) -> None:
        self.inner = inner
        self.first: float | None = None

    def acquire(self) -> None:
        self.inner.acquire()
        if self.first is None:
            self.first = time.perf_counter()

    def observe(self, status: int, headers: object) -> None:
        self.inner.observe(status, headers)  # type: ignore[arg-type]


@dataclass
class Row:
    scenario: str
    clusters: int
    concurrency: int
    requests: int
    http_429: int
    wall_s: float
    ideal_s: float
    ratio: float
    failed_clusters: int


def scenario(name: str, limiter: RateLimiter | PassThrough, *, clusters: int, concurrency: int, limit: int,
             window: float) -> Row:  # fmt: skip
    fake = FakeDigitalOcean(clock=SystemClock(), rate_limit_per_minute=1_000_000, rate_limit_per_hour=limit,
                            rate_limit_window=window, strict=False)  # fmt: skip
    for i in range(clusters):
        fake.add_cluster(f"tenant-{i:03d}", size=SIZES[i % len(SIZES)], tags=[TAG])
    timed = FirstRequest(limiter)
    with fake.serve() as url, httpx.Client() as http:
        connect: Callable[[], DigitalOcean] = lambda: DigitalOcean(  # noqa: E731
            TOKEN, api_url=url, http=http, limiter=timed
        )
        for _ in range(concurrency + 1):
            connect().close()  # warm the imports: building pydo's client the first time is not rate-limited
        result = ensure_fleet(connect, PoolRequest(PoolSize.parse("50%")), tag=TAG, concurrency=concurrency)
        wall = time.perf_counter() - (timed.first or time.perf_counter())
    throttled = sum(1 for c in fake.calls if c.status == 429)
    ideal = (result.requests - throttled) / (limit / window)  # the work: every request but the refused ones
    return Row(name, clusters, concurrency, result.requests, throttled, round(wall, 2), round(ideal, 2),
               round(wall / ideal, 2), len(result.failed))  # fmt: skip


def _verdict(row: Row) -> str:
    """Whether a limited run met the goal; the run without a limiter is the counterfactual, not judged."""
    if row.scenario == "no limiter":
        return "-"
    return "met" if row.http_429 <= 1 and row.ratio <= 1.2 and not row.failed_clusters else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--limit", type=int, default=10, help="requests per window (the fake's quota)")
    parser.add_argument("--window", type=float, default=2.5, help="seconds (the quota's sliding window)")
    parser.add_argument("--json", action="store_true", help="one JSON object per scenario instead of a table")
    args = parser.parse_args()
    common = {"clusters": args.clusters, "concurrency": args.concurrency, "limit": args.limit,
              "window": args.window}  # fmt: skip
    rows = [
        scenario("limiter told the window", RateLimiter((Window(args.limit, args.window),), margin=0.05), **common),
        scenario("headers only (CLI default)", RateLimiter(), **common),
        scenario("no limiter", PassThrough(), **common),
    ]
    if args.json:
        for row in rows:
            print(json.dumps(asdict(row)))
        return
    print(f"{args.clusters} clusters, concurrency {args.concurrency}; fake limit {args.limit} requests per "
          f"{args.window:g} s (loopback server, real time); goal: <= 1 x 429, wall <= 1.2 x ideal")  # fmt: skip
    header = ["scenario", "requests", "429s", "wall s", "ideal s", "wall/ideal", "failed", "goal"]
    table = [header] + [[r.scenario, str(r.requests), str(r.http_429), f"{r.wall_s:.2f}", f"{r.ideal_s:.2f}",
                         f"{r.ratio:.2f}", str(r.failed_clusters), _verdict(r)] for r in rows]  # fmt: skip
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


if __name__ == "__main__":
    main()
