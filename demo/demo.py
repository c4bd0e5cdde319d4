"""``make demo``: do-pgpool's main job against a local fake of the DigitalOcean API (no account needed).

Part 1 (the API): starts the project's fake DigitalOcean API on 127.0.0.1 (seeded with a 1 GiB PostgreSQL
cluster and an App Platform app), runs the real ``do-pgpool`` command against it step by step, and shows what
each step sent to the API.

Part 2 (the incident, on real servers): ``do-pgpool sandbox``'s servers - a real PostgreSQL shaped like a
1 GiB DigitalOcean cluster (25 connections, 3 reserved, TLS, non-superuser doadmin) and a real PgBouncer behind
the same fake API. An app leaks connections until the 23rd gets the FATAL, ``status`` explains it, ``fix``
resolves it, 200 concurrent clients go through the pool written to the app's .env, and a second ``fix``
changes nothing. Skipped, saying why, where PostgreSQL/PgBouncer are not installed.

Everything started here is stopped at the end.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from do_pgpool._dburl import mask_secrets_in
from do_pgpool.testing import FakeDigitalOcean, Sandbox, ServersUnavailable, seed_demo
from do_pgpool.testing._servers import psycopg_connect

BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "", "")
CLIENTS = 200
TRANSACTIONS = 5  # per client
#: fix's step lines and summary (its full output also carries the advice text, shown once by ``status``)
FIX_LINES = re.compile(r"^([-+?!] \[\d/\d\]|ok:|FAILED:|      (error|state left):)")


class Steps:
    """Runs ``do-pgpool ARGS`` against the fake, prints its output and the API requests it made."""

    def __init__(self, fake: FakeDigitalOcean, env: dict[str, str]) -> None:
        self.fake, self.env, self.failures = fake, env, 0

    def __call__(self, title: str, args: list[str], expect: int = 0,
                 keep: Callable[[str], bool] = lambda line: True) -> None:  # fmt: skip
        before = len(self.fake.calls)
        print(f"\n{BOLD}# {title}{RESET}\n$ do-pgpool {' '.join(args)}")
        done = subprocess.run([sys.executable, "-m", "do_pgpool", *args], env=self.env, capture_output=True,
                              text=True, timeout=60)  # fmt: skip
        for line in (done.stdout + done.stderr).rstrip().splitlines():
            if keep(line):
                print(f"  {line}")
        calls = self.fake.calls[before:]
        writes = [f"{c.method} {c.path} -> {c.status}" for c in calls if c.method != "GET"]
        print(f"{DIM}  [exit {done.returncode}; {len(calls)} API requests; writes: "
              f"{', '.join(writes) or 'none'}]{RESET}")  # fmt: skip
        self.expect(done.returncode == expect, f"expected exit {expect}")

    def expect(self, ok: bool, what: str) -> None:
        if not ok:
            self.failures += 1
            print(f"  !! {what}")


def show_file(path: Path) -> None:
    print(f"{DIM}  {path.name} now reads:{RESET}")
    for line in path.read_text().splitlines():
        print(f"    {mask_secrets_in(line)}")


# --- part 1: the API --------------------------------------------------------------------------------------


def api_story() -> int:
    fake = FakeDigitalOcean()
    seed_demo(fake)
    with fake.serve() as url, tempfile.TemporaryDirectory(prefix="do-pgpool-demo-") as tmp:
        step = Steps(fake, {**os.environ, "DIGITALOCEAN_API_URL": url, "DIGITALOCEAN_TOKEN": "demo-token",
                            "DO_PGPOOL_CLUSTER": "app-db", "NO_COLOR": "1"})  # fmt: skip
        dotenv = Path(tmp) / ".env"
        dotenv.write_text("# web app settings\nDEBUG=false\nexport DATABASE_URL=postgres://old@db:5432/app\n")
        print(f"{BOLD}Part 1: the DigitalOcean API{RESET}")
        print(f"{DIM}fake DigitalOcean API on {url}: cluster 'app-db' (db-s-1vcpu-1gb, 22 pool connections), "
              f"app 'web-app'{RESET}")

        step("Create a PgBouncer pool in transaction mode", ["ensure-pool", "--size", "20"])
        step("The same again: already converged, two reads and no write", ["ensure-pool", "--size", "20"])
        step("More than a 1 GiB cluster allows (budget 22): refused before any write",
             ["ensure-pool", "--size", "30"], expect=1)
        step("Shrink it in place (full-body PUT keeps user, db and mode)", ["ensure-pool", "--size", "10"])
        step("Point the server's .env at the pool", ["rewrite-secret", "--secret", f"dotenv:{dotenv}"])
        show_file(dotenv)
        step("And the App Platform app's DATABASE_URL (one deployment)", ["rewrite-secret", "--secret", "app:web-app"])
        step("Both again: nothing changed, so no write and no deployment",
             ["rewrite-secret", "--secret", f"dotenv:{dotenv}", "--secret", "app:web-app"])
    return step.failures


# --- part 2: the incident on a real PostgreSQL and PgBouncer ------------------------------------------------


def incident_story() -> int:
    print(f"\n{BOLD}Part 2: the incident, on a real PostgreSQL and PgBouncer (do-pgpool sandbox){RESET}")
    try:
        with Sandbox.start() as box, tempfile.TemporaryDirectory(prefix="do-pgpool-demo-") as tmp:
            return incident(box, Path(tmp))
    except ServersUnavailable as exc:
        print(f"SKIPPED the replay on real servers (the 23rd connection's FATAL, status, fix, {CLIENTS} clients "
              f"through the pool, a second fix): {exc}")
        return 0


def incident(box: Sandbox, tmp: Path) -> int:
    s = box.servers
    step = Steps(box.fake, {**os.environ, **box.env, "NO_COLOR": "1"})
    print(f"{DIM}PostgreSQL {s.server_version_num // 10000} on {s.host}:{s.pg_port} (max_connections 25, 3 reserved "
          f"for superusers, TLS), PgBouncer on {s.host}:{s.bouncer_port}, the fake API on {box.api_url}{RESET}")
    dotenv = tmp / ".env"
    dotenv.write_text(f"DEBUG=false\nDATABASE_URL={s.direct_url('app')}\n")  # the app connects directly

    with ExitStack() as leaked:
        print(f"\n{BOLD}# The web app opens a connection per request and never closes them{RESET}")
        held: list[Any] = []
        while len(held) < 40:
            try:
                held.append(leaked.enter_context(psycopg_connect(s.direct_url("app"), application_name="web")))
            except Exception as exc:  # noqa: BLE001 - the refusal is the point
                fatal = str(exc).strip().splitlines()[-1].split("failed: ")[-1]
                print(f"  connection {len(held) + 1}: {fatal}")
                break
        print(f"  {len(held)} connections held; every new one is refused")
        step.expect(len(held) == 22, "expected the 23rd connection to be refused")

        step("What is going on", ["status"], expect=1)
        held.pop().close()
        print(f"\n{DIM}  (one web worker exits, so a slot is free for a moment){RESET}")
        fix = ["fix", "--size", "20", "--idle-for", "0", "--secret", f"dotenv:{dotenv}"]
        step("Fix it: free the idle sessions, put a pool of 20 in front, point the .env at it, verify", fix,
             keep=FIX_LINES.match)  # fmt: skip
        show_file(dotenv)

    url = next(line.split("=", 1)[1] for line in dotenv.read_text().splitlines() if line.startswith("DATABASE_URL="))
    print(f"\n{BOLD}# The app restarts with its .env: {CLIENTS} concurrent clients through the pool{RESET}")
    errors, transactions, backends, seconds = run_clients(url)
    print(f"  {CLIENTS} clients, {transactions} transactions in {seconds:.1f} s: {len(errors)} errors, "
          f"{backends} PostgreSQL connections used (pool size 20)")  # fmt: skip
    for exc in errors[:3]:
        print(f"  error: {mask_secrets_in(str(exc).strip().splitlines()[-1])}")
    step.expect(not errors and transactions == CLIENTS * TRANSACTIONS and backends <= 20,
                "expected every transaction to succeed on at most 20 server connections")  # fmt: skip

    step("Run fix again: nothing changes", fix, keep=FIX_LINES.match)
    return step.failures


def run_clients(url: str) -> tuple[list[BaseException], int, int, float]:
    """CLIENTS threads connect at once, then each runs TRANSACTIONS short transactions; errors are counted."""
    errors: list[BaseException] = []
    pids: set[int] = set()
    done = [0]
    lock = threading.Lock()
    barrier = threading.Barrier(CLIENTS, timeout=30)

    def client(i: int) -> None:
        try:
            with psycopg_connect(url, prepare_threshold=None, autocommit=False, application_name="web") as conn:
                barrier.wait()  # all connected at once, on a server that takes 22
                for j in range(TRANSACTIONS):
                    with conn.transaction():
                        row = conn.execute("SELECT %s::int * 2, pg_backend_pid()", (i * 100 + j,)).fetchone()
                    assert row is not None and row[0] == 2 * (i * 100 + j), f"wrong answer {row}"
                    with lock:
                        done[0] += 1
                        pids.add(int(row[1]))
        except BaseException as exc:  # noqa: BLE001 - counted and printed, none may happen
            barrier.abort()
            with lock:
                errors.append(exc)

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors, done[0], len(pids), time.monotonic() - started


def main() -> int:
    failures = api_story() + incident_story()
    print(f"\n{BOLD}demo {'finished' if not failures else f'had {failures} unexpected result(s)'}{RESET}; "
          "every server it started is stopped.")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
