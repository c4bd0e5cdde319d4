"""Start-up and converged-run cost of the CLI (a benchmark, not a test).

    .venv/bin/python -m benchmarks.startup [--runs 20]

Reports the median wall time of ``python -c pass``, ``do-pgpool --help`` and a converged
``do-pgpool ensure-pool`` against the project's fake DigitalOcean API on loopback, plus whether ``--help``
imported pydo or azure (``python -X importtime``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from do_pgpool.testing import FakeDigitalOcean


def median_ms(cmd: list[str], runs: int, env: dict[str, str] | None = None) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=60)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    py = sys.executable
    cli = [py, "-m", "do_pgpool"]
    rows = [("python -c pass", median_ms([py, "-c", "pass"], args.runs)),
            ("do-pgpool --help", median_ms([*cli, "--help"], args.runs))]
    fake = FakeDigitalOcean(rate_limit_per_minute=100_000, rate_limit_per_hour=1_000_000)
    fake.add_cluster("app-db", size="db-s-1vcpu-1gb")
    with fake.serve() as url:
        env = {**os.environ, "DIGITALOCEAN_API_URL": url, "DIGITALOCEAN_TOKEN": "bench"}
        subprocess.run([*cli, "ensure-pool", "--size", "10"], env=env, check=True, capture_output=True)
        before = fake.request_count
        rows.append(("do-pgpool ensure-pool (converged)", median_ms([*cli, "ensure-pool", "--size", "10"],
                                                                    args.runs, env)))
        per_run = (fake.request_count - before) / args.runs
    imported = subprocess.run([py, "-X", "importtime", *cli[1:], "--help"], capture_output=True, text=True).stderr
    heavy = sorted({line.split("|")[-1].strip().split(".")[0] for line in imported.splitlines()
                    if line.split("|")[-1].strip().split(".")[0] in ("pydo", "azure")})
    print(f"{'command':40} {'median ms':>10}  ({args.runs} runs)")
    for name, ms in rows:
        print(f"{name:40} {ms:10.1f}")
    print(f"API requests per converged run: {per_run:g}")
    print(f"--help imported pydo/azure: {heavy or 'no'}")


if __name__ == "__main__":
    main()
