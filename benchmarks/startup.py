"""Start-up cost and request counts of the CLI (a benchmark, not a test).

    .venv/bin/python -m benchmarks.startup [--runs 15] [--json]

Wall time is measured from outside, as a user sees it: ``time.perf_counter()`` around ``subprocess.run`` of a
fresh interpreter, ``--runs`` times each, median reported. Two ratios, each against the floor it cannot beat:

- ``do-pgpool --help`` / ``python -c "import click"`` (the CLI's framework; target <= 1.3)
- converged ``do-pgpool ensure-pool --cluster UUID`` / ``python -c "import pydo"`` (the API client; target
  <= 1.5), against the project's fake DigitalOcean on a loopback port (this process serves it).

Then the API requests each ensure-pool shape makes, counted by the fake (``fake.calls``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from do_pgpool.testing import FakeDigitalOcean

TOKEN = "dop_v1_benchmarkbenchmarkbenchmark"
HELP_TARGET = 1.3
ENSURE_TARGET = 1.5


def cli() -> list[str]:
    """The installed console script next to this interpreter (what a user runs), else ``python -m``."""
    script = Path(sys.executable).with_name("do-pgpool")
    return [str(script)] if script.exists() else [sys.executable, "-m", "do_pgpool"]


def median_s(cmd: list[str], runs: int, env: dict[str, str] | None = None) -> float:
    subprocess.run(cmd, env=env, capture_output=True, check=True, timeout=60)  # warm the page cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, env=env, capture_output=True, check=True, timeout=60)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@contextmanager
def served() -> Iterator[tuple[FakeDigitalOcean, dict[str, str]]]:
    fake = FakeDigitalOcean(rate_limit_per_minute=1_000_000, rate_limit_per_hour=10_000_000)
    fake.add_token(TOKEN)
    cluster = fake.add_cluster("app-db", size="db-s-1vcpu-2gb", users=("doadmin", "app"))
    fake.add_pool(cluster, "defaultdb-pool", 10)
    with fake.serve() as url:
        env = {**os.environ, "DIGITALOCEAN_API_URL": url, "DIGITALOCEAN_TOKEN": TOKEN}
        env.pop("DO_PGPOOL_CLUSTER", None)
        yield fake, env


def request_counts(fake: FakeDigitalOcean, env: dict[str, str], tmp: Path) -> dict[str, int]:
    """Requests per ensure-pool shape (one CLI run each; the fake's state carries over, so order matters)."""
    uuid = fake.cluster("app-db").id
    dotenv = f"dotenv:{tmp / '.env'}"
    shapes = [
        ("converged, by uuid", ["--cluster", uuid, "--size", "10"]),
        ("converged, by name", ["--cluster", "app-db", "--size", "10"]),
        ("converged, by uuid, with --secret", ["--cluster", uuid, "--size", "10", "--secret", dotenv]),
        ("create, by uuid", ["--cluster", uuid, "--size", "5", "--name", "new-pool"]),
        ("update, by uuid", ["--cluster", uuid, "--size", "6", "--name", "new-pool"]),
        ("create, by uuid, with --secret", ["--cluster", uuid, "--size", "5", "--name", "other-pool",
                                            "--secret", dotenv]),
        ("update (user), by uuid, with --secret", ["--cluster", uuid, "--size", "5", "--name", "other-pool",
                                                   "--user", "app", "--secret", dotenv]),
    ]  # fmt: skip
    counts = {}
    for label, args in shapes:
        before = len(fake.calls)
        subprocess.run([*cli(), "ensure-pool", *args], env=env, capture_output=True, check=True, timeout=60)
        counts[label] = len(fake.calls) - before
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per command; the median is reported")
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args()
    py = sys.executable
    results: dict[str, Any] = {"runs": opts.runs}
    click_s = median_s([py, "-c", "import click"], opts.runs)
    help_s = median_s([*cli(), "--help"], opts.runs)
    pydo_s = median_s([py, "-c", "import pydo"], opts.runs)
    with served() as (fake, env):
        uuid = fake.cluster("app-db").id
        before = len(fake.calls)
        ensure_s = median_s([*cli(), "ensure-pool", "--cluster", uuid, "--size", "10"], opts.runs, env)
        per_run = (len(fake.calls) - before) / (opts.runs + 1)
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            counts = request_counts(fake, env, Path(tmp))
    results.update(
        import_click_s=click_s, help_s=help_s, help_ratio=help_s / click_s,
        import_pydo_s=pydo_s, ensure_converged_s=ensure_s, ensure_ratio=ensure_s / pydo_s,
        ensure_converged_requests=per_run, requests=counts,
    )  # fmt: skip
    if opts.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"median of {opts.runs} runs each (subprocess wall time)")
        print(f"  python -c 'import click'                    {click_s * 1000:7.1f} ms")
        print(f"  do-pgpool --help                            {help_s * 1000:7.1f} ms   "
              f"ratio {help_s / click_s:.2f} (target <= {HELP_TARGET})")
        print(f"  python -c 'import pydo'                     {pydo_s * 1000:7.1f} ms")
        print(f"  do-pgpool ensure-pool --cluster UUID (conv.) {ensure_s * 1000:6.1f} ms   "
              f"ratio {ensure_s / pydo_s:.2f} (target <= {ENSURE_TARGET}); {per_run:g} request(s) per run")
        print("API requests per ensure-pool (counted by the fake):")
        for label, n in counts.items():
            print(f"  {label:40} {n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
