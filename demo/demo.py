"""``make demo``: do-pgpool's main job against a local fake of the DigitalOcean API (no account needed).

Part 1 (the API): starts the project's fake DigitalOcean API on 127.0.0.1 (seeded with a 1 GiB PostgreSQL
cluster and an App Platform app), runs the real ``do-pgpool`` command against it step by step, and shows what
each step sent to the API.

Part 2 (the incident, on real servers): ``do-pgpool sandbox``'s servers - a real PostgreSQL shaped like a
1 GiB DigitalOcean cluster (25 connections, 3 reserved, TLS, non-superuser doadmin) and a real PgBouncer behind
the same fake API. An app leaks connections until the 23rd gets the FATAL, ``status`` explains it, ``fix``
resolves it, 200 concurrent clients go through the pool written to the app's .env, and a second ``fix``
changes nothing. Skipped, saying why, where PostgreSQL/PgBouncer are not installed.

Part 3 (the next deploy and the app's side, on the same servers): ``status --fail-at near`` as a deploy gate
(exit 4 while the pool holds its 20 server connections; 0 once it is shrunk), ``probe`` of the pool (PgBouncer
1.18: prepared statements leak) and of the same pool on a PgBouncer >= 1.21 with max_prepared_statements in
front of the same PostgreSQL (they work; SKIPPED, saying why, where scripts/build-pgbouncer.sh has not built
it), ``advice`` for a small Django app from the saved probe, and ``migrate`` of a migration that fails and
leaves a worker with 3 connections (demo/leaky_migration.py): 3 terminated, its exit status kept.

Everything started here is stopped at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
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
from do_pgpool.testing import FakeDigitalOcean, RealServers, Sandbox, ServersUnavailable, seed_demo
from do_pgpool.testing._servers import _pid_alive, find_new_pgbouncer, psycopg_connect

BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "", "")
CLIENTS = 200
TRANSACTIONS = 5  # per client
#: fix's step lines and summary (its full output also carries the advice text, shown once by ``status``)
FIX_LINES = re.compile(r"^([-+?!] \[\d/\d\]|ok:|FAILED:|      (error|state left):)")


class Steps:
    """Runs ``do-pgpool ARGS`` against the fake, prints its output and the API requests it made."""

    def __init__(self, fake: FakeDigitalOcean, env: dict[str, str], cwd: Path | None = None) -> None:
        self.fake, self.env, self.cwd, self.failures = fake, env, cwd, 0

    def __call__(self, title: str, args: list[str], expect: int = 0,
                 keep: Callable[[str], object] = lambda line: True, *, shown: str | None = None,
                 env: dict[str, str] | None = None, save: str | None = None, merge: bool = False) -> str:  # fmt: skip
        """``shown``: the command line to print instead of ``do-pgpool ARGS``; ``env``: instead of the usual
        environment; ``save``: a file (in ``cwd``) that gets stdout instead of the screen; ``merge``: stdout and
        stderr in the order they were written (one pipe). Returns stdout."""
        before = len(self.fake.calls)
        print(f"\n{BOLD}# {title}{RESET}\n$ {shown or 'do-pgpool ' + ' '.join(args)}")
        done = subprocess.run([sys.executable, "-m", "do_pgpool", *args], env=env or self.env, cwd=self.cwd,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT if merge else subprocess.PIPE,
                              text=True, timeout=60)  # fmt: skip
        if save:
            Path(self.cwd or ".", save).write_text(done.stdout)
        for line in ((done.stdout if not save else "") + (done.stderr or "")).rstrip().splitlines():
            if keep(line):
                print(f"  {line}".rstrip())
        calls = self.fake.calls[before:]
        writes = [f"{c.method} {c.path} -> {c.status}" for c in calls if c.method != "GET"]
        print(f"{DIM}  [exit {done.returncode}; {len(calls)} API requests; writes: "
              f"{', '.join(writes) or 'none'}]{RESET}")  # fmt: skip
        self.expect(done.returncode == expect, f"expected exit {expect}")
        return done.stdout

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
            return incident(box, Path(tmp)) + app_side(box, Path(tmp))
    except ServersUnavailable as exc:
        print(f"SKIPPED the replay on real servers (the 23rd connection's FATAL, status, fix, {CLIENTS} clients "
              f"through the pool, a second fix): {exc}")
        print(f"\n{BOLD}Part 3: the next deploy and the app's side{RESET}\nSKIPPED (the deploy gate, probe, advice "
              f"and migrate need the same servers): {exc}")
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
    for error in errors[:3]:
        print(f"  error: {mask_secrets_in(str(error).strip().splitlines()[-1])}")
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


# --- part 3: the next deploy and the app's side, on the same servers -----------------------------------------

#: status lines the gate steps show: the pools' share of the budget, the verdict, the gate's word
GATE_LINES = re.compile(r"^(connection budget:|verdict:|Headroom gate)")
#: its server connections and the gate's own session stay under 80 % of 22 (the gate passes), and leave migrate
#: its session and the --headroom 3 it asks for (the worker opens 3 connections)
SMALLER_POOL = 16
#: the app's migration: it fails and leaves a worker with 3 connections (copied into the demo app as migrate.py)
MIGRATION = Path(__file__).with_name("leaky_migration.py")
NEW_PGBOUNCER_PREPARED = 100  # max_prepared_statements of the PgBouncer >= 1.21


def app_side(box: Sandbox, tmp: Path) -> int:
    s = box.servers
    step = Steps(box.fake, {**os.environ, **box.env, "NO_COLOR": "1"}, cwd=tmp)
    version = ".".join(map(str, s.pgbouncer_version()))
    print(f"\n{BOLD}Part 3: the next deploy and the app's side, on the same servers{RESET}")
    print(f"{DIM}may the next deploy start (the gate)? what must the app change (probe, advice)? its migration "
          f"(migrate){RESET}")  # fmt: skip

    gate = ["status", "--no-advice", "--fail-at", "near"]
    step("Deploy gate: exit 4, the pool still holds the server connections the burst opened (until "
         "server_idle_timeout)", gate, expect=4, keep=GATE_LINES.match)  # fmt: skip
    step(f"Shrink the pool to {SMALLER_POOL}: room for direct connections (migrations, psql); PgBouncer closes the "
         "pool's idle server connections",
         ["ensure-pool", "--size", str(SMALLER_POOL)], keep=lambda line: line.startswith(("  ~", "budget:")))
    step("The gate again: exit 0, the deploy may go on", gate, keep=GATE_LINES.match)

    # (a) what the pool does to session features, measured: the driver settings depend on it
    step(f"Probe the pool (PgBouncer {version}): which session features survive it? The driver settings depend on it",
         ["probe", "-o", "json"], shown="do-pgpool probe -o json > probe.json", save="probe.json")  # fmt: skip
    old = show_probe(step, tmp / "probe.json", direct=True)
    step.expect(old.get("protocol_prepared_statements") in ("leaks", "breaks"),
                f"expected protocol-level prepared statements to leak or break through PgBouncer {version}")
    new = probe_newer_pgbouncer(step, s, tmp)

    # (b) the exact settings for an app, from its repository and the measurement
    app = tmp / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("Django==5.1.4\npsycopg[binary]==3.2.3\n")
    print(f"\n{DIM}  a tiny app repository: app/requirements.txt lists Django and psycopg[binary]{RESET}")
    out = step("The app's exact settings: its stack from requirements.txt; prepared statements off, as probe.json says",
               ["advice", "--app-dir", "app", "--probe", "probe.json"],
               keep=lambda line: not line.startswith("  sources:"))  # fmt: skip
    step.expect("'OPTIONS': {'prepare_threshold': None}," in out and "'CONN_MAX_AGE': 0," in out,
                "expected Django's settings with prepare_threshold None and CONN_MAX_AGE 0")
    if new:
        out = step(f"With probe-new.json (PgBouncer {new}): prepared statements measured to work, so kept on",
                   ["advice", "--app-dir", "app", "--probe", "probe-new.json"],
                   keep=lambda line: line.startswith(("Prepared statements", "    '")))  # fmt: skip
        step.expect("works (measured)" in out and "'OPTIONS': {'prepare_threshold'" not in out,
                    "expected the advice to keep prepared statements on")

    # (c) the deploy's migration: on the direct connection, and what it leaves behind is ended
    shutil.copy(MIGRATION, app / "migrate.py")
    python = Path(sys.executable)  # first on PATH, so that the command reads as typed
    env = {**step.env, "PATH": f"{python.parent}{os.pathsep}{step.env.get('PATH', '')}"}
    out = step("The migration, through migrate: it fails (exit 5) leaving a worker with 3 connections; all 3 are "
               "ended, the 5 is kept", ["migrate", "--headroom", "3", "--", python.name, "app/migrate.py"],
               expect=5, merge=True, env=env)  # fmt: skip
    step.expect(re.search(r"exited with status 5; 3 session\(s\) left behind \(.*\), 3 terminated$", out, re.M)
                is not None, "expected 3 sessions left behind, 3 terminated")  # fmt: skip
    worker = re.search(r"started worker pid (\d+)", out)
    step.expect(worker is not None and process_ends(int(worker.group(1))),
                "expected the migration's worker to exit once its connections were ended")
    return step.failures


def show_probe(step: Steps, path: Path, *, direct: bool) -> dict[str, str]:
    """A saved ``probe -o json``: one line per feature (pool, and direct), and the prepared statements'
    evidence. Returns the pool's verdicts; counts a failure for a direct connection where a feature did not work."""
    try:
        saved = json.loads(path.read_text())
    except ValueError:  # the probe failed (its step has said so): nothing to show
        saved = {}
    pool = {name: m["behaviour"] for name, m in (saved.get("pool") or {}).items()}
    directs = {name: m["behaviour"] for name, m in (saved.get("direct") or {}).items()}
    print(f"{DIM}  {path.name}: the verdicts through the pool{' (and on the direct connection)' if direct else ''}"
          f"{RESET}")  # fmt: skip
    for name, behaviour in pool.items():
        print(f"    {name:<29} {behaviour:<6} {directs.get(name, '') if direct else ''}".rstrip())
    detail = (saved.get("pool") or {}).get("protocol_prepared_statements", {}).get("detail", "")
    print(f"    protocol_prepared_statements, the evidence: {detail}")
    if direct:
        step.expect(bool(directs) and set(directs.values()) == {"works"}, "expected every feature to work direct")
    return pool


def probe_newer_pgbouncer(step: Steps, s: RealServers, tmp: Path) -> str | None:
    """The same pool on a PgBouncer >= 1.21 with max_prepared_statements, in front of the same PostgreSQL,
    probed the same way. Returns its version, or None when there is none here (SKIPPED, saying why)."""
    try:
        other = s.start_another_pgbouncer(find_new_pgbouncer(), s.pools,
                                          max_prepared_statements=NEW_PGBOUNCER_PREPARED)  # fmt: skip
    except ServersUnavailable as exc:
        print(f"\nSKIPPED the same probe on a PgBouncer >= 1.21 with max_prepared_statements: {exc}")
        return None
    try:
        version = ".".join(map(str, other.pgbouncer_version()))
        # --url: no cluster; DO_PGPOOL_CLUSTER (the sandbox's) would ask for one
        env = {k: v for k, v in step.env.items() if k != "DO_PGPOOL_CLUSTER"}
        url = other.pool_url()
        step(f"The same pool on PgBouncer {version} with max_prepared_statements {NEW_PGBOUNCER_PREPARED} (same "
             "PostgreSQL): protocol-level prepared statements work", ["probe", "--no-direct", "-o", "json"],
             env={**env, "DO_PGPOOL_PROBE_URL": url}, save="probe-new.json",
             shown=f"DO_PGPOOL_PROBE_URL={mask_secrets_in(url)} do-pgpool probe --no-direct -o json > probe-new.json")
    finally:
        other.stop()
    new = show_probe(step, tmp / "probe-new.json", direct=False)
    step.expect(new.get("protocol_prepared_statements") == "works"
                and all(b != "works" for name, b in new.items() if name != "protocol_prepared_statements"),
                f"expected only protocol-level prepared statements to work through PgBouncer {version}")  # fmt: skip
    return version


def process_ends(pid: int, within: float = 5.0) -> bool:
    """Whether process ``pid`` is gone within ``within`` seconds; if not, it is sent SIGTERM (the demo leaves
    nothing running)."""
    deadline = time.monotonic() + within
    while _pid_alive(pid):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            return False
        time.sleep(0.05)
    return True


def main() -> int:
    failures = api_story() + incident_story()
    print(f"\n{BOLD}demo {'finished' if not failures else f'had {failures} unexpected result(s)'}{RESET}; "
          "every server it started is stopped.")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
