"""Start-up cost and request counts of the CLI (a benchmark, not a test).

    .venv/bin/python -m benchmarks.startup [--runs 15] [--json]

Both ratios, each command run with Python's bytecode cache as an installed package has it (``user_env``):

- ``do-pgpool --help`` / ``python -c "import click"`` (the CLI's framework; target <= 1.3)
- converged ``do-pgpool ensure-pool --cluster UUID`` / ``python -c "import pydo"`` (the API client; target
  <= 1.5), against the project's fake DigitalOcean on a loopback port (this process serves it).

Then the same two ratios against floors given the CLI's garbage-collector policy (``do_pgpool/_console.py``: off
while the process starts, everything frozen before the exit), which plain ``python -c`` does not have: part of
the CLI's lead over its floors is that policy, and these ratios show what is left without it. Then the API
requests each ensure-pool shape makes, counted by the fake (``fake.calls``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from do_pgpool.testing import FakeDigitalOcean

TOKEN = "dop_v1_benchmarkbenchmarkbenchmark"
HELP_TARGET = 1.3
ENSURE_TARGET = 1.5


def same_gc(code: str) -> str:
    """``code`` under the console entry point's collector policy: off while importing, everything frozen at exit."""
    return f"import gc; gc.disable(); {code}; gc.freeze()"


def cli() -> list[str]:
    """The installed console script next to this interpreter (what a user runs), else ``python -m``."""
    script = Path(sys.executable).with_name("do-pgpool")
    return [str(script)] if script.exists() else [sys.executable, "-m", "do_pgpool"]


@dataclass(frozen=True)
class Timing:
    """Medians in seconds: ``wall`` as the user waits; ``cpu`` the child's user+system time, which a busy
    machine disturbs far less (shown beside the wall time, not instead of it)."""

    wall: float
    cpu: float


def user_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every timed command: ``base`` (else ours) with Python's bytecode cache allowed.

    ``pip install`` compiles every package to ``__pycache__/*.pyc``, so a user's ``import pydo`` and do-pgpool
    alike load bytecode. With PYTHONDONTWRITEBYTECODE set (some sandboxes and CI images set it), an editable
    checkout's modules would be compiled from source on every run while pydo's (installed) are not: ~50 ms of
    compilation that no user pays. The warm-up run writes the cache (``__pycache__/`` is git-ignored).
    """
    env = dict(os.environ if base is None else base)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def paired_medians(floor: list[str], subject: list[str], runs: int, env: dict[str, str] | None = None
                   ) -> tuple[Timing, Timing]:
    """Median times of each command, run alternately (floor, subject, floor, ...) so that a load change on
    the machine during the benchmark hits both sides alike."""
    env = user_env(env)
    for cmd in (floor, subject):
        subprocess.run(cmd, env=env, capture_output=True, check=True, timeout=60)  # warm the page cache
    wall: tuple[list[float], list[float]] = ([], [])
    cpu: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for i, cmd in enumerate((floor, subject)):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(cmd, env=env, capture_output=True, check=True, timeout=60)
            wall[i].append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[i].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    a, b = (Timing(statistics.median(wall[i]), statistics.median(cpu[i])) for i in (0, 1))
    return a, b


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
        subprocess.run([*cli(), "ensure-pool", *args], env=user_env(env), capture_output=True, check=True,
                       timeout=60)
        counts[label] = len(fake.calls) - before
    return counts


def _verdict(ratio: float, target: float) -> str:
    return "met" if ratio <= target else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per command; the median is reported")
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args()
    py = sys.executable
    results: dict[str, Any] = {"runs": opts.runs}
    click_t, help_t = paired_medians([py, "-c", "import click"], [*cli(), "--help"], opts.runs)
    click_gc, help_gc = paired_medians([py, "-c", same_gc("import click")], [*cli(), "--help"], opts.runs)
    with served() as (fake, env):
        uuid = fake.cluster("app-db").id
        before = len(fake.calls)
        converged = [*cli(), "ensure-pool", "--cluster", uuid, "--size", "10"]
        pydo_t, ensure_t = paired_medians([py, "-c", "import pydo"], converged, opts.runs, env)
        per_run = (len(fake.calls) - before) / (opts.runs + 1)
        pydo_gc, ensure_gc = paired_medians([py, "-c", same_gc("import pydo")], converged, opts.runs, env)
        with tempfile.TemporaryDirectory() as tmp:
            counts = request_counts(fake, env, Path(tmp))
    results.update(
        import_click=asdict(click_t), help=asdict(help_t), help_ratio=help_t.wall / click_t.wall,
        help_ratio_cpu=help_t.cpu / click_t.cpu, import_pydo=asdict(pydo_t), ensure_converged=asdict(ensure_t),
        ensure_ratio=ensure_t.wall / pydo_t.wall, ensure_ratio_cpu=ensure_t.cpu / pydo_t.cpu,
        ensure_converged_requests=per_run, requests=counts,
        help_ratio_same_gc=help_gc.wall / click_gc.wall, ensure_ratio_same_gc=ensure_gc.wall / pydo_gc.wall,
    )  # fmt: skip
    if opts.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"median of {opts.runs} runs each, alternating with the floor (subprocess wall time; cpu = user+sys)")
    rows = [
        ("python -c 'import click'", click_t, ""),
        ("do-pgpool --help", help_t, f"ratio {help_t.wall / click_t.wall:.2f} (cpu {help_t.cpu / click_t.cpu:.2f}); "
                                     f"target <= {HELP_TARGET}: {_verdict(help_t.wall / click_t.wall, HELP_TARGET)}"),
        ("python -c 'import pydo'", pydo_t, ""),
        ("ensure-pool --cluster UUID, converged", ensure_t,
         f"ratio {ensure_t.wall / pydo_t.wall:.2f} (cpu {ensure_t.cpu / pydo_t.cpu:.2f}); target <= {ENSURE_TARGET}: "
         f"{_verdict(ensure_t.wall / pydo_t.wall, ENSURE_TARGET)}; {per_run:g} request(s)"),
    ]  # fmt: skip
    for label, t, note in rows:
        print(f"  {label:38} wall {t.wall * 1000:6.1f} ms  cpu {t.cpu * 1000:6.1f} ms  {note}")
    print("the same against floors with the CLI's collector policy (off while starting, frozen at exit):")
    for label, floor, subject, target in (("do-pgpool --help", click_gc, help_gc, HELP_TARGET),
                                          ("ensure-pool --cluster UUID, converged", pydo_gc, ensure_gc, ENSURE_TARGET)):
        ratio = subject.wall / floor.wall
        print(f"  {label:38} floor {floor.wall * 1000:6.1f} ms  ratio {ratio:.2f} (cpu {subject.cpu / floor.cpu:.2f}); "
              f"target <= {target}: {_verdict(ratio, target)}")
    print("API requests per ensure-pool (counted by the fake):")
    for label, n in counts.items():
        print(f"  {label:40} {n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
