"""``do-pgpool fix`` end to end against a real PostgreSQL 15 (the shape of a 1 GiB DigitalOcean cluster: 25
connections, 3 reserved) and a real PgBouncer, with the fake DigitalOcean API handing out connection details
that point at them. The story of the incident: the app's direct connections fill the server until it answers
``FATAL: remaining connection slots are reserved ...``; ``status`` says so; ``terminate-idle`` frees slots;
``fix`` puts a pool of 20 in place, writes it to the app's ``.env`` and verifies it; then 200 concurrent clients
run through PgBouncer with zero connection errors on at most 20 server backends. A second run changes nothing."""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from click.testing import Result
from dotenv import dotenv_values

from do_pgpool.api._gateway import DigitalOcean
from do_pgpool.ops._fix import fix
from do_pgpool.ops._pool_plan import PoolRequest, PoolSize
from do_pgpool.targets._parse import parse_target
from do_pgpool.testing import FakeDigitalOcean
from do_pgpool.testing._servers import PoolAlias, RealServers, psycopg_connect
from tests.cli_runner import assert_none_shown, invoke
from tests.conftest_servers import kick_client_backends, local_cluster

pytestmark = pytest.mark.postgres

TOKEN = "dop_v1_" + "f" * 8 + "fix-cli-token"
POOL = "web-pool"
#: the full-server test's pool: a failed server login makes PgBouncer refuse that pool's logins for
#: server_login_retry (15 s), so it must not be the pool the other tests verify through
FULL_POOL = "full-pool"
POOL_SIZE = 20  # the fake's pool and PgBouncer's alias agree
LEAKY = "leaky-web"
MAX_LEAK = 40  # bound for "open connections until the FATAL": the server has 25


# --- fixtures --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bouncer(pgbouncer_server: RealServers) -> RealServers:
    """PgBouncer serves ``web-pool`` and ``full-pool`` (size 20), the pools ``fix`` creates on the fake API."""
    for name in (POOL, FULL_POOL):
        if name not in pgbouncer_server.pools:
            pgbouncer_server.add_pool(name, PoolAlias("defaultdb", POOL_SIZE))
    return pgbouncer_server


@pytest.fixture
def servers(bouncer: RealServers) -> RealServers:
    """No client backend left over (PgBouncer's server connections included), so counts are exact."""
    kick_client_backends(bouncer)
    wait_app_backends_at_most(bouncer, 0)
    return bouncer


@pytest.fixture
def fake(servers: RealServers) -> FakeDigitalOcean:
    """Cluster ``app-db`` (1 GiB: budget 22) is the local PostgreSQL; its pools are served by the local PgBouncer."""
    fake = FakeDigitalOcean()
    local_cluster(fake, servers)
    return fake


@pytest.fixture
def api(fake: FakeDigitalOcean) -> Iterator[str]:
    with fake.serve() as url:
        yield url


# --- helpers ---------------------------------------------------------------------------------------------


run = functools.partial(invoke, token=TOKEN)


def assert_no_secrets(result: Result, servers: RealServers) -> None:
    assert_none_shown(result, TOKEN, servers.password)


def leak_until_full(stack: ExitStack, servers: RealServers) -> tuple[list[psycopg.Connection[Any]], str]:
    """Open the app's direct connections (doadmin, port 25060 in real life) until PostgreSQL refuses one."""
    conns: list[psycopg.Connection[Any]] = []
    for _ in range(MAX_LEAK):
        try:
            conns.append(stack.enter_context(psycopg_connect(servers.direct_url(), application_name=LEAKY)))
        except psycopg.OperationalError as exc:
            return conns, str(exc)
    raise AssertionError(f"{MAX_LEAK} direct connections and no FATAL: the server is not shaped as expected")


def leak(stack: ExitStack, servers: RealServers, n: int) -> list[psycopg.Connection[Any]]:
    return [stack.enter_context(psycopg_connect(servers.direct_url(), application_name=LEAKY)) for _ in range(n)]


def app_backends(servers: RealServers) -> int:
    """Client backends of every non-superuser (the sampling superuser session excluded)."""
    with psycopg_connect(servers.superuser_conninfo()) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                           "AND usename <> current_user").fetchone()  # fmt: skip
    assert row is not None
    return int(row[0])


def wait_app_backends_at_most(servers: RealServers, n: int, deadline: float = 5.0) -> int:
    """A closed connection's backend exits asynchronously: bounded wait until at most ``n`` are left."""
    end = time.monotonic() + deadline
    while (count := app_backends(servers)) > n and time.monotonic() < end:
        time.sleep(0.01)
    return count


def is_alive(conn: psycopg.Connection[Any]) -> bool:
    try:
        return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.OperationalError:
        return False


def writes(fake: FakeDigitalOcean) -> list[Any]:
    return [c for c in fake.calls if c.method != "GET"]


def steps(result: Result) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in json.loads(result.stdout)["steps"]}


class PeakSampler:
    """Samples application backends (non-superuser client backends) until stopped; bounded by ``max_samples``."""

    def __init__(self, servers: RealServers, max_samples: int = 200_000) -> None:
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._conn = psycopg_connect(servers.superuser_conninfo())
        self._max = max_samples
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        sql = ("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
               "AND usename <> current_user")  # fmt: skip
        while not self._stop.is_set() and self.samples < self._max:
            row = self._conn.execute(sql).fetchone()
            self.peak = max(self.peak, int(row[0]) if row else 0)
            self.samples += 1

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._conn.close()


def run_clients(url: str, n: int, transactions: int) -> tuple[list[BaseException], int, set[int]]:
    """``n`` threads connect through the pool (prepare_threshold=None), wait until all are connected, then each
    runs ``transactions`` short transactions and checks its answers. Returns errors, wrong answers, server pids."""
    errors: list[BaseException] = []
    wrong: list[tuple[int, Any]] = []
    pids: set[int] = set()
    lock = threading.Lock()
    barrier = threading.Barrier(n, timeout=30)

    def client(i: int) -> None:
        try:
            with psycopg.connect(url, prepare_threshold=None, connect_timeout=10, application_name="pooled-web") as c:
                barrier.wait()  # all n connected at once: 200 clients on a server that takes 22
                for j in range(transactions):
                    with c.transaction():
                        row = c.execute("SELECT %s::int * 2, pg_backend_pid()", (i * 1000 + j,)).fetchone()
                    with lock:
                        if row is None or row[0] != 2 * (i * 1000 + j):
                            wrong.append((i, row))
                        elif row is not None:
                            pids.add(int(row[1]))
        except BaseException as exc:  # noqa: BLE001 - every failure is counted, none may happen
            barrier.abort()
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "clients still running after 60 s"
    return errors, len(wrong), pids


# --- the story -------------------------------------------------------------------------------------------


def test_from_the_fatal_to_200_pooled_clients_and_a_second_run_changes_nothing(
    api: str, fake: FakeDigitalOcean, servers: RealServers, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("# the app's settings\nSECRET_KEY=keep-me\n")
    with ExitStack() as stack:
        # The app leaks direct connections until PostgreSQL refuses: 22 = 25 - 3 reserved for superusers.
        leaked, fatal = leak_until_full(stack, servers)
        assert len(leaked) == servers.max_connections - servers.superuser_reserved == 22
        assert "remaining connection slots are reserved for" in fatal

        status = run(api, "status", "--cluster", "app-db")
        assert status.exit_code == 1  # cli/_diagnose.py: exit 1 when the server could not be read
        assert "verdict: saturated: 22 of 22 non-superuser connection slots in use, 0 free" in status.stdout
        assert "refused the connection because it is full" in status.stderr

        # terminate-idle needs one slot for itself: one app worker recycles its connection.
        leaked.pop().close()
        assert wait_app_backends_at_most(servers, 21) == 21
        freed = run(api, "terminate-idle", "--cluster", "app-db", "--idle-for", "0", "--application", LEAKY)
        assert freed.exit_code == 0, freed.output
        assert "terminated 21 idle sessions; 21 of 22 non-superuser slots free" in freed.stdout
        assert not any(is_alive(c) for c in leaked)

        # fix: pool on the API, the .env rewritten, verified through PgBouncer.
        first = run(api, "fix", "--cluster", "app-db", "--size", "20", "--name", POOL, "--idle-for", "0",
                    "--secret", f"dotenv:{env_file}")  # fmt: skip
        assert first.exit_code == 0, first.output
        out = first.stdout
        assert "+ [1/6] status: done: ok: 1 of 22 non-superuser connection slots in use, 21 free" in out
        assert "- [2/6] terminate-idle: skipped: not saturated (ok, 21 of 22 slots free)" in out
        assert f"+ [3/6] ensure-pool: done: created pool '{POOL}' (transaction, size 20, db defaultdb, user " \
               "doadmin)" in out  # fmt: skip
        assert "+ [4/6] secrets: done: wrote 1 of 1 targets" in out
        assert "+ [5/6] verify: done: postgres" in out and "SELECT 1 ok" in out
        assert "do-pgpool advice" in out and "pg_advisory_xact_lock()" in out  # the pointer to the advice
        assert "ok: 5 done, 1 skipped; changed something" in out
        assert_no_secrets(first, servers)
    pool = fake.databases.cluster("app-db").pools[POOL]
    assert (pool.size, pool.mode, pool.db, pool.user) == (POOL_SIZE, "transaction", "defaultdb", "doadmin")

    env = dotenv_values(env_file)
    assert env["SECRET_KEY"] == "keep-me"
    url = env["DATABASE_URL"]
    assert url is not None
    parts = urlsplit(url)
    assert (parts.hostname, parts.port, parts.path, parts.query) == (
        servers.host, servers.bouncer_port, f"/{POOL}", "sslmode=require")  # fmt: skip
    assert parts.password == servers.password  # the app can connect: the value carries the password

    # 200 concurrent clients through PgBouncer: zero errors, never more than the pool's size on the server.
    started = time.monotonic()
    with PeakSampler(servers) as sampler:
        errors, wrong, pids = run_clients(url, n=200, transactions=5)
    elapsed = time.monotonic() - started
    assert errors == [], f"{len(errors)} client errors, first: {errors[0]!r}"
    assert wrong == 0
    assert sampler.samples > 0 and 1 <= sampler.peak <= POOL_SIZE, (sampler.peak, sampler.samples)
    assert 1 <= len(pids) <= POOL_SIZE
    print(f"200 clients x 5 transactions in {elapsed:.2f} s; peak application backends {sampler.peak} "
          f"({sampler.samples} samples); {len(pids)} server backends used")  # fmt: skip

    # A second run changes nothing: pool unchanged, .env untouched, nothing to terminate.
    writes_before, mtime = len(writes(fake)), env_file.stat().st_mtime_ns
    second = run(api, "fix", "--cluster", "app-db", "--size", "20", "--name", POOL, "--idle-for", "0",
                 "--secret", f"dotenv:{env_file}", "-o", "json")  # fmt: skip
    assert second.exit_code == 0, second.output
    data = json.loads(second.stdout)
    assert data["ok"] is True and data["changed"] is False
    assert [(s["name"], s["outcome"], s["changed"]) for s in data["steps"]] == [
        ("status", "done", False), ("terminate-idle", "skipped", False), ("ensure-pool", "done", False),
        ("secrets", "done", False), ("verify", "done", False), ("advice", "done", False),
    ]  # fmt: skip
    assert data["pool"]["action"] == "unchanged"
    assert data["secrets"][0]["action"] == "unchanged"
    assert len(writes(fake)) == writes_before
    assert env_file.stat().st_mtime_ns == mtime
    assert_no_secrets(second, servers)


def test_fix_on_a_full_server_lists_the_options_and_still_puts_the_pool_and_the_secret_in_place(
    api: str, fake: FakeDigitalOcean, servers: RealServers, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    with ExitStack() as stack:
        leaked, _ = leak_until_full(stack, servers)
        started = time.monotonic()
        result = run(api, "fix", "--cluster", "app-db", "--size", "20", "--name", FULL_POOL,
                     "--secret", f"dotenv:{env_file}", "--verify-timeout", "1")  # fmt: skip
        elapsed = time.monotonic() - started
        assert all(is_alive(c) for c in leaked)  # nothing could be terminated
    assert result.exit_code == 1
    out = result.stdout
    assert "+ [1/6] status: done: saturated: PostgreSQL refused do-pgpool's connection because it is full" in out
    assert "! [2/6] terminate-idle: failed: cannot connect to free idle sessions: PostgreSQL is full" in out
    assert "restart the application that holds the connections: do-pgpool restart --app APP" in out
    assert "restart the cluster through maintenance: do-pgpool restart --cluster CLUSTER" in out
    assert "resize the cluster for more connections: do-pgpool resize" in out
    assert "state left: no session was terminated; the pool and the secrets are still put in place" in out
    # The API side needs no database connection: the pool and the secret are in place.
    assert f"+ [3/6] ensure-pool: done: created pool '{FULL_POOL}'" in out
    assert "+ [4/6] secrets: done: wrote 1 of 1 targets" in out
    assert FULL_POOL in fake.databases.cluster("app-db").pools
    assert urlsplit(dotenv_values(env_file)["DATABASE_URL"] or "").path == f"/{FULL_POOL}"
    # The pool cannot get a server connection while the app holds every slot: said, and bounded.
    assert "! [5/6] verify: failed: could not run SELECT 1 through the pool" in out
    assert "PostgreSQL is still full" in out and "do-pgpool restart --app APP" in out
    assert elapsed < 8, f"verification was not bounded: {elapsed:.1f} s"
    assert "2 of 6 steps failed" in result.stderr
    assert_no_secrets(result, servers)


def test_fix_on_a_nearly_full_server_terminates_the_idle_sessions_first(
    api: str, fake: FakeDigitalOcean, servers: RealServers, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    with ExitStack() as stack:
        leaked = leak(stack, servers, 21)  # one slot left: do-pgpool's own connection fills the server
        result = run(api, "fix", "--cluster", "app-db", "--size", "20", "--name", POOL, "--idle-for", "0",
                     "--secret", f"dotenv:{env_file}", "-o", "json")  # fmt: skip
        assert result.exit_code == 0, result.output
        assert not any(is_alive(c) for c in leaked)
    found = steps(result)
    assert found["status"]["summary"].startswith("saturated: 22 of 22")
    assert found["terminate-idle"]["outcome"] == "done" and found["terminate-idle"]["changed"] is True
    data = json.loads(result.stdout)
    assert data["terminate"]["terminated_count"] == 21
    assert {s["application"] for s in data["terminate"]["terminated"]} == {LEAKY}
    assert found["ensure-pool"]["outcome"] == "done" and data["pool"]["action"] == "created"
    assert found["secrets"]["changed"] is True
    assert found["verify"]["outcome"] == "done" and data["verify"]["ok"] is True
    assert data["advice"]["frameworks"][0]["key"] == "django"
    assert "stdout" not in data
    assert_no_secrets(result, servers)


def test_dry_run_shows_every_step_and_changes_nothing(
    api: str, fake: FakeDigitalOcean, servers: RealServers, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    with ExitStack() as stack:
        leaked = leak(stack, servers, 21)
        result = run(api, "fix", "--cluster", "app-db", "--size", "20", "--name", POOL, "--idle-for", "0",
                     "--secret", f"dotenv:{env_file}", "--dry-run")  # fmt: skip
        assert all(is_alive(c) for c in leaked)  # no terminate
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "dry run, nothing will be changed" in out
    assert "? [2/6] terminate-idle: planned: would terminate 21 session(s) idle for 0 s or more" in out
    listed = [line for line in out.splitlines() if line.startswith("      pid ")]
    assert len(listed) == 21 and all(f"app {LEAKY} idle for" in line for line in listed)
    assert f"? [3/6] ensure-pool: planned: would create pool '{POOL}'" in out
    assert f"? [4/6] secrets: planned: would write DATABASE_URL to dotenv:{env_file} once the pool exists" in out
    assert "- [5/6] verify: skipped: dry run" in out
    assert "dry run: 2 done, 3 planned, 1 skipped; nothing was changed" in out
    assert writes(fake) == [] and fake.databases.cluster("app-db").pools == {}
    assert not env_file.exists()
    assert_no_secrets(result, servers)


def test_library_a_failed_pool_step_leaves_the_secrets_alone_and_says_so(
    fake: FakeDigitalOcean, servers: RealServers, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("DATABASE_URL=postgres://old@db/app\n")
    http = httpx.Client(transport=fake.http_transport())
    with DigitalOcean("test-token", http=http) as gateway:
        result = fix(gateway, PoolRequest(size=30, name=POOL), cluster="app-db",
                     targets=[parse_target(f"dotenv:{env_file}")], idle_for=0)  # fmt: skip
    http.close()
    assert not result.ok and not result.changed
    assert [(s.name, s.outcome) for s in result.steps] == [
        ("status", "done"), ("terminate-idle", "skipped"), ("ensure-pool", "failed"),
        ("secrets", "skipped"), ("verify", "skipped"), ("advice", "done"),
    ]  # fmt: skip
    failed = result.step("ensure-pool")
    assert type(failed.error).__name__ == "BudgetError"
    assert "Use size=22 or less" in str(failed.error)
    assert failed.state == f"pool {POOL!r} was not changed; secrets were not written; fix the cause and re-run"
    assert result.step("secrets").summary.startswith("the pool is not confirmed, so nothing was written")
    assert env_file.read_text() == "DATABASE_URL=postgres://old@db/app\n"
    assert writes(fake) == []
    assert servers.password not in json.dumps(result.as_dict())
    assert os.environ.get("DATABASE_URL") != servers.password  # nothing leaked into the process either


def test_size_as_a_percentage_is_half_of_this_clusters_budget_and_a_rerun_changes_nothing(
    api: str, fake: FakeDigitalOcean, servers: RealServers
) -> None:
    first = run(api, "fix", "--cluster", "app-db", "--size", "50%", "--name", POOL, "--idle-for", "0")
    assert first.exit_code == 0, first.output
    assert f"+ [3/6] ensure-pool: done: created pool '{POOL}' (transaction, size 11, db defaultdb" in first.stdout
    assert fake.databases.cluster("app-db").pools[POOL].size == 11  # 1 GiB: budget 22, half of it
    assert "+ [5/6] verify: done: postgres" in first.stdout

    writes_before = len(writes(fake))
    again = run(api, "fix", "--cluster", "app-db", "--size", "50%", "--name", POOL, "--idle-for", "0", "-o", "json")
    assert again.exit_code == 0, again.output
    data = json.loads(again.stdout)
    assert data["changed"] is False
    assert (data["pool"]["action"], data["pool"]["pool"]["size"]) == ("unchanged", 11)
    assert len(writes(fake)) == writes_before
    assert_no_secrets(first, servers)


@pytest.mark.parametrize(
    ("size", "message"),
    [("0", "--size 0 is too small"), ("150%", "use 1% to 100%"), ("half", "neither a whole number nor a")],
)
def test_a_bad_size_exits_2_before_any_request(api: str, fake: FakeDigitalOcean, size: str, message: str) -> None:
    result = run(api, "fix", "--cluster", "app-db", "--size", size)
    assert result.exit_code == 2
    assert message in result.stderr
    assert fake.calls == []


def test_secret_options_without_a_target_exit_2_like_ensure_pool(api: str, fake: FakeDigitalOcean) -> None:
    result = run(api, "fix", "--cluster", "app-db", "--size", "20", "--private")
    assert result.exit_code == 2
    assert "--private only applies with --secret TARGET" in result.stderr
    assert fake.calls == []


def test_library_a_percentage_on_a_cluster_without_a_known_budget_fails_the_pool_step_only(
    fake: FakeDigitalOcean, servers: RealServers
) -> None:
    odd = fake.add_cluster("odd-db", size="db-custom", host=servers.host, port=servers.pg_port,
                           pool_port=servers.bouncer_port, password=servers.password, version="15")  # fmt: skip
    odd.ca_pem = servers.ca_pem
    http = httpx.Client(transport=fake.http_transport())
    with DigitalOcean("test-token", http=http) as gateway:
        result = fix(gateway, PoolRequest(PoolSize.parse("50%"), name=POOL), cluster="odd-db", idle_for=0)
    http.close()
    assert [(s.name, s.outcome) for s in result.steps] == [
        ("status", "done"), ("terminate-idle", "skipped"), ("ensure-pool", "failed"),
        ("secrets", "skipped"), ("verify", "skipped"), ("advice", "done"),
    ]  # fmt: skip
    failed = result.step("ensure-pool")
    assert type(failed.error).__name__ == "PlanError"
    assert "size slug 'db-custom' does not say the node's RAM; give an absolute size for it" in str(failed.error)
    assert failed.state == f"pool {POOL!r} was not changed; secrets were not written; fix the cause and re-run"
    assert writes(fake) == []
