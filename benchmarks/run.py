"""pgbench direct vs through PgBouncer (transaction mode, pool of 20) on a 1 GiB-DigitalOcean-shaped server.

    make bench                      # = python -m benchmarks.run
    python -m benchmarks.run --duration 5 --json

Starts a real PostgreSQL (max_connections=25, 3 reserved) and PgBouncer via do_pgpool.testing._servers,
initialises pgbench (scale 1) as the non-superuser ``app`` role, then runs select-only pgbench (-S):
direct with 20 clients, through the pool with 20 and 100 clients, and direct with 30 clients, which must
fail with ``remaining connection slots are reserved ...``. Reports TPS, connection errors and the peak
number of application backends (sampled from pg_stat_activity every 20 ms by a superuser over the unix
socket; that sampler takes one slot, like any monitoring session would).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from do_pgpool.postgres._connect import is_saturation_message
from do_pgpool.testing._servers import PoolAlias, RealServers, psycopg_connect
from tests.conftest_servers import kick_client_backends

POOL = "defaultdb-pool"
USER = "app"


@dataclass
class Run:
    name: str
    target: str  # direct | pool
    clients: int
    tps: float | None
    transactions: int | None
    connection_errors: int
    failed_transactions: int
    peak_backends: int
    exit_code: int
    refused_full: bool  # the server answered "remaining connection slots are reserved ..."
    error: str | None = None


class Sampler:
    """Peak count of the app role's client backends, sampled until stopped."""

    def __init__(self, servers: RealServers, user: str, interval: float = 0.02) -> None:
        self.servers, self.user, self.interval = servers, user, interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with psycopg_connect(self.servers.superuser_conninfo(), prepare_threshold=None) as conn:
            while not self._stop.is_set():
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND usename = %s",
                    (self.user,),
                ).fetchone()
                self.peak = max(self.peak, int(row[0]) if row else 0)
                self._stop.wait(self.interval)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def pgbench_env(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    return {
        **os.environ,
        "PGHOST": parts.hostname or "",
        "PGPORT": str(parts.port),
        "PGUSER": parts.username or "",
        "PGPASSWORD": parts.password or "",
        "PGDATABASE": parts.path.lstrip("/"),
        "PGSSLMODE": "require",
    }


def pgbench(servers: RealServers, args: list[str], url: str, timeout: float) -> subprocess.CompletedProcess[str]:
    exe = str(servers.binaries.pg_bindir / "pgbench")
    if not Path(exe).exists():
        exe = "pgbench"
    return subprocess.run([exe, *args], env=pgbench_env(url), capture_output=True, text=True, timeout=timeout,
                          check=False)  # fmt: skip


def _number(pattern: str, text: str) -> float | None:
    m = re.search(pattern, text)
    return float(m.group(1)) if m else None


def bench(servers: RealServers, name: str, target: str, clients: int, duration: int, *, reconnect: bool) -> Run:
    url = servers.pool_url(POOL, USER) if target == "pool" else servers.direct_url(USER)
    kick_client_backends(servers)  # every run starts from an empty server (the pool reconnects)
    args = ["-n", "-S", "-T", str(duration), "-c", str(clients), "-j", str(min(clients, os.cpu_count() or 2))]
    if reconnect:
        args.append("-C")
    with Sampler(servers, USER) as sampler:
        proc = pgbench(servers, args, url, timeout=duration + 120)
    out = proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "connection" in line and "failed" in line]
    tps = _number(r"tps = ([0-9.]+) \((?:without initial connection time|including reconnection times)\)", out)
    tx = _number(r"number of transactions actually processed: (\d+)", out)
    failed = _number(r"number of failed transactions: (\d+)", out)
    return Run(
        name=name,
        target=target,
        clients=clients,
        tps=tps if proc.returncode == 0 else None,
        transactions=int(tx) if tx is not None and proc.returncode == 0 else None,
        connection_errors=len(errors),
        failed_transactions=int(failed or 0),
        peak_backends=sampler.peak,
        exit_code=proc.returncode,
        refused_full=is_saturation_message(out),
        error=errors[0].split("FATAL:")[-1].strip() if errors else None,
    )


def table(runs: list[Run], duration: int) -> str:
    head = f"| run (pgbench -S, {duration} s) | " + " | ".join(r.name for r in runs) + " |"
    sep = "|---|" + "---|" * len(runs)

    def tps(r: Run) -> str:
        if r.tps is not None:
            return f"{r.tps:,.0f}"
        return "fails with the FATAL" if r.refused_full else f"failed (exit {r.exit_code})"

    rows = [
        "| TPS | " + " | ".join(tps(r) for r in runs) + " |",
        "| connection errors | " + " | ".join(str(r.connection_errors) for r in runs) + " |",
        "| failed transactions | " + " | ".join(str(r.failed_transactions) for r in runs) + " |",
        "| peak application backends | "
        + " | ".join(str(r.peak_backends) if r.exit_code == 0 else "—" for r in runs)
        + " |",
    ]
    return "\n".join([head, sep, *rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per pgbench run (default 10)")
    parser.add_argument(
        "--reconnect",
        action="store_true",
        help="also run direct and pooled -c20 with a new connection per transaction (pgbench -C)",
    )
    parser.add_argument("--json", action="store_true", help="print the runs as JSON instead of a table")
    opts = parser.parse_args(argv)

    plan = [
        ("direct -c20", "direct", 20, False),
        ("pooled -c20", "pool", 20, False),
        ("pooled -c100", "pool", 100, False),
        ("direct -c30", "direct", 30, False),
    ]
    if opts.reconnect:
        plan += [("direct -c20 -C", "direct", 20, True), ("pooled -c20 -C", "pool", 20, True)]
    with RealServers.start(pools={POOL: PoolAlias(size=20)}) as servers:
        init = pgbench(servers, ["-i", "-s", "1", "-q"], servers.direct_url(USER), timeout=300)
        if init.returncode != 0:
            print(f"pgbench -i failed: {init.stderr}", file=sys.stderr)
            return 1
        with psycopg_connect(servers.superuser_conninfo()) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        bouncer = subprocess.run([str(servers.binaries.pgbouncer), "--version"], capture_output=True, text=True,
                                 check=False).stdout.splitlines()[0]  # fmt: skip
        info: dict[str, Any] = {
            "postgresql": row[0] if row else "?",
            "pgbouncer": bouncer,
            "cpus": os.cpu_count(),
            "max_connections": servers.max_connections,
            "superuser_reserved_connections": servers.superuser_reserved,
            "pool": {"name": POOL, "mode": "transaction", "size": 20},
            "duration_s": opts.duration,
        }
        runs = []
        for name, target, clients, reconnect in plan:
            print(f"running {name} for {opts.duration} s ...", file=sys.stderr, flush=True)
            runs.append(bench(servers, name, target, clients, opts.duration, reconnect=reconnect))

    if opts.json:
        print(json.dumps({"setup": info, "runs": [asdict(r) for r in runs]}, indent=2))
    else:
        print(f"PostgreSQL {info['postgresql']}, {info['pgbouncer']}, {info['cpus']} CPUs; "
              f"max_connections={servers.max_connections}, superuser_reserved_connections="
              f"{servers.superuser_reserved}; pool {POOL} transaction/20; role {USER!r}; pgbench scale 1")  # fmt: skip
        print()
        print(table(runs, opts.duration))
        for r in runs:
            if r.error:
                print(f"\n{r.name}: {r.error}")
    must_fail_run = runs[3]
    ok = all(r.exit_code == 0 and r.connection_errors == 0 for r in runs if r is not must_fail_run)
    must_fail = must_fail_run.refused_full and must_fail_run.exit_code != 0
    if not must_fail:
        print("\nexpected direct -c30 to be refused with the FATAL, it was not", file=sys.stderr)
    return 0 if ok and must_fail else 1


if __name__ == "__main__":
    raise SystemExit(main())
