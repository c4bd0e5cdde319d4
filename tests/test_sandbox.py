"""``do-pgpool sandbox``: a real PostgreSQL and PgBouncer behind the fake API, and the commands that run against it.

The sandbox starts its own servers (not the session's): one for this module's API tests (each leaves its pools
as it found them), and one per test that checks how it stops.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import psycopg
import pytest
from click.testing import CliRunner, Result
from dotenv import dotenv_values

from do_pgpool.cli import main
from do_pgpool.testing import _servers
from do_pgpool.testing._sandbox import SANDBOX_TOKEN, Sandbox
from do_pgpool.testing._servers import ServersUnavailable, find_new_pgbouncer, psycopg_connect
from tests.conftest_servers import _unavailable, kick_client_backends

pytestmark = pytest.mark.postgres

DEADLINE = 30.0  # bound for every wait on a real process


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    try:
        with Sandbox.start() as started:
            yield started
    except ServersUnavailable as exc:
        _unavailable(str(exc))


def api(box: Sandbox, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return httpx.request(method, f"{box.api_url}/v2/databases/{box.cluster.id}{path}", json=body,
                         headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"}, timeout=10)  # fmt: skip


def served_pools(box: Sandbox) -> dict[str, tuple[int, str, str | None]]:
    """PgBouncer's own view: name -> (pool_size, pool_mode, force_user)."""
    with _servers._admin_connect(box.servers.admin_conninfo()) as conn:
        rows = conn.execute("SHOW DATABASES").fetchall()
    return {r["name"]: (r["pool_size"], r["pool_mode"], r["force_user"]) for r in rows if r["name"] != "pgbouncer"}


def gone(pids: dict[str, int], workdir: Path) -> bool:
    return not workdir.exists() and not any(_servers._pid_alive(pid) for pid in pids.values())


def wait_until(predicate: Any, what: str) -> None:
    end = time.monotonic() + DEADLINE
    while not predicate():
        assert time.monotonic() < end, f"not within {DEADLINE} s: {what}"
        time.sleep(0.05)


# --- pools through the API are real PgBouncer pools ------------------------------------------------------


def test_a_pool_created_through_the_api_is_served_by_pgbouncer_with_the_uri_the_api_returned(box: Sandbox) -> None:
    created = api(box, "POST", "/pools", {"name": "web-pool", "mode": "transaction", "size": 7, "db": "defaultdb",
                                           "user": "app"})  # fmt: skip
    assert created.status_code == 201, created.text
    uri = created.json()["pool"]["connection"]["uri"]
    assert f":{box.servers.bouncer_port}/web-pool" in uri
    with psycopg_connect(uri, prepare_threshold=None) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == ("app", "defaultdb")
        assert conn.pgconn.ssl_in_use
    assert served_pools(box)["web-pool"] == (7, "transaction", "app")

    resized = api(box, "PUT", "/pools/web-pool", {"mode": "transaction", "size": 12, "db": "defaultdb", "user": "app"})
    assert resized.status_code == 204, resized.text
    assert served_pools(box)["web-pool"] == (12, "transaction", "app")

    assert api(box, "DELETE", "/pools/web-pool").status_code == 204
    assert "web-pool" not in served_pools(box)
    with pytest.raises(psycopg.OperationalError, match="no such database: web-pool"):
        psycopg_connect(uri, prepare_threshold=None)


def test_a_user_created_through_the_api_can_log_in_directly_and_through_its_pool(box: Sandbox) -> None:
    created = api(box, "POST", "/users", {"name": "reporting"})
    assert created.status_code == 201, created.text
    password = created.json()["user"]["password"]
    direct = box.servers.direct_url("reporting")
    assert password and password in unquote(direct)
    with psycopg_connect(direct) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("reporting",)
    pool = api(box, "POST", "/pools", {"name": "reports-pool", "mode": "session", "size": 2, "db": "defaultdb",
                                        "user": "reporting"})  # fmt: skip
    assert pool.status_code == 201, pool.text
    try:
        with psycopg_connect(pool.json()["pool"]["connection"]["uri"], prepare_threshold=None) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("reporting",)
    finally:
        assert api(box, "DELETE", "/pools/reports-pool").status_code == 204


def test_the_cluster_is_the_local_postgresql_shaped_like_a_1gb_digitalocean_cluster(box: Sandbox) -> None:
    cluster = api(box, "GET", "").json()["database"]
    assert cluster["size"] == "db-s-1vcpu-1gb"
    with psycopg_connect(cluster["connection"]["uri"]) as conn:
        settings = dict(conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('max_connections', 'superuser_reserved_connections', 'ssl')"
        ).fetchall())  # fmt: skip
        row = conn.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
    assert settings == {"max_connections": "25", "superuser_reserved_connections": "3", "ssl": "on"}
    assert row == ("doadmin", False)


def test_leaving_the_sandbox_stops_every_process_and_removes_its_folder() -> None:
    try:
        with Sandbox.start() as started:
            pids, workdir, url = started.servers.pids, started.servers.workdir, started.api_url
            assert set(pids) == {"postgres", "pgbouncer"} and all(_servers._pid_alive(p) for p in pids.values())
    except ServersUnavailable as exc:
        _unavailable(str(exc))
    assert gone(pids, workdir)
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=2)


# --- the command ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_the_command_prints_what_to_export_and_stops_everything_on_a_signal(sig: signal.Signals) -> None:
    with subprocess.Popen([sys.executable, "-m", "do_pgpool", "sandbox"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as proc:  # fmt: skip
        try:
            lines = read_announcement(proc)
            exported = dict(line.removeprefix("export ").split("=", 1) for line in lines if line.startswith("export "))
            assert set(exported) == {"DIGITALOCEAN_API_URL", "DIGITALOCEAN_TOKEN", "DO_PGPOOL_CLUSTER"}
            workdir = Path(next(line.split()[-1] for line in lines if line.startswith("#   folder")))
            pids = {name: int(next(line for line in lines if line.startswith(f"#   {title}")).rsplit("pid ", 1)[1][:-1])
                    for name, title in (("postgres", "PostgreSQL"), ("pgbouncer", "PgBouncer"))}  # fmt: skip
            assert all(_servers._pid_alive(p) for p in pids.values()) and workdir.is_dir()
            status = subprocess.run([sys.executable, "-m", "do_pgpool", "status", "-o", "json"], capture_output=True,
                                    text=True, env={**os.environ, **exported}, timeout=DEADLINE)  # fmt: skip
            assert status.returncode == 0, status.stderr
            assert json.loads(status.stdout)["usage"]["max_connections"] == 25
            proc.send_signal(sig)
            _, err = proc.communicate(timeout=DEADLINE)
            assert proc.returncode == 0, err
            assert "every process it started is gone" in err
            wait_until(lambda: gone(pids, workdir), "the servers gone and the folder removed")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=DEADLINE)


def read_announcement(proc: subprocess.Popen[str]) -> list[str]:
    """The sandbox's stdout up to its last line (printed once everything is up), bounded by DEADLINE."""
    assert proc.stdout is not None
    lines: list[str] = []
    end = time.monotonic() + DEADLINE
    while not (lines and lines[-1].startswith("# Ctrl-C")) and time.monotonic() < end:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
    if not lines:
        _, err = proc.communicate(timeout=DEADLINE)
        if "apt-get install postgresql pgbouncer" in err:
            _unavailable(err.strip())
        raise AssertionError(f"the sandbox printed nothing: {err}")
    return lines


def test_the_command_runs_one_command_inside_and_returns_its_exit_code() -> None:
    check = ("import os, sys; sys.exit(7 if os.environ['DO_PGPOOL_CLUSTER'] == 'app-db' "
             "and os.environ['DIGITALOCEAN_API_URL'].startswith('http://127.0.0.1:') else 1)")  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "do_pgpool", "sandbox", "--", sys.executable, "-c", check],
                          capture_output=True, text=True, timeout=2 * DEADLINE)  # fmt: skip
    if "apt-get install postgresql pgbouncer" in done.stderr:
        _unavailable(done.stderr.strip())
    assert done.returncode == 7, done.stderr
    assert "every process it started is gone" in done.stderr


def test_the_command_finds_this_installations_do_pgpool_without_an_activated_virtualenv() -> None:
    env = {**os.environ, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}  # the virtualenv's bin folder is not on it
    done = subprocess.run([sys.executable, "-m", "do_pgpool", "sandbox", "--", "sh", "-c", "command -v do-pgpool"],
                          capture_output=True, text=True, timeout=2 * DEADLINE, env=env)  # fmt: skip
    if "apt-get install postgresql pgbouncer" in done.stderr:
        _unavailable(done.stderr.strip())
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == os.path.join(os.path.dirname(sys.executable), "do-pgpool")


def test_without_postgresql_the_command_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PG_BINDIR", raising=False)
    monkeypatch.setattr(_servers.glob, "glob", lambda pattern: [])
    result = CliRunner().invoke(main, ["sandbox"])
    assert result.exit_code == 1
    assert "cannot start the sandbox" in result.stderr and "apt-get install postgresql pgbouncer" in result.stderr


# --- status, fix, ensure-pool and an application, for real ---------------------------------------------------


def run(box: Sandbox, *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=box.env, catch_exceptions=False)


def test_the_incident_end_to_end_status_fix_ensure_pool_and_an_app_reading_the_dotenv(
    box: Sandbox, tmp_path: Path
) -> None:
    kick_client_backends(box.servers)  # PgBouncer's server connections from the other tests
    env_file = tmp_path / ".env"
    env_file.write_text("DEBUG=false\nDATABASE_URL=postgres://old@db:5432/app\n")
    with ExitStack() as stack:
        held = []
        with pytest.raises(psycopg.OperationalError, match="remaining connection slots are reserved"):
            for _ in range(30):  # the 23rd is refused: 25 - 3 reserved
                held.append(stack.enter_context(psycopg_connect(box.servers.direct_url("app"))))
        assert len(held) == 22
        status = run(box, "status")
        assert status.exit_code == 1
        assert "refused the connection because it is full" in status.stderr

        held.pop().close()  # one slot frees: enough for fix to terminate the idle ones
        fixed = run(box, "fix", "--size", "20", "--idle-for", "0", "--secret", f"dotenv:{env_file}", "-o", "json")
        assert fixed.exit_code == 0, fixed.output
        outcomes = {s["name"]: (s["outcome"], s["changed"]) for s in json.loads(fixed.stdout)["steps"]}
        assert outcomes["terminate-idle"] == ("done", True) and outcomes["ensure-pool"] == ("done", True)
        assert outcomes["secrets"] == ("done", True) and outcomes["verify"] == ("done", False)

    url = dotenv_values(env_file)["DATABASE_URL"]
    assert url is not None and f":{box.servers.bouncer_port}/defaultdb-pool" in url
    assert dotenv_values(env_file)["DEBUG"] == "false"
    with psycopg_connect(url, prepare_threshold=None) as app:  # the application, configured by its .env
        assert app.execute("SELECT 41 + 1").fetchone() == (42,)

    again = run(box, "ensure-pool", "--size", "20", "--secret", f"dotenv:{env_file}")
    assert again.exit_code == 0, again.output
    assert "up to date" in again.stdout and "file not touched" in again.stdout
    refixed = run(box, "fix", "--size", "20", "--secret", f"dotenv:{env_file}", "-o", "json")
    assert refixed.exit_code == 0 and json.loads(refixed.stdout)["changed"] is False
    assert SANDBOX_TOKEN not in fixed.output + again.output and box.servers.password not in fixed.output + again.output
    assert api(box, "DELETE", "/pools/defaultdb-pool").status_code == 204  # as the module found it


def test_a_busy_port_or_a_non_loopback_host_is_a_usage_error_before_any_server_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_servers(*args: object, **kwargs: object) -> None:
        raise AssertionError("no server may start")

    monkeypatch.setattr(_servers.RealServers, "start_postgres", no_servers)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(main, ["sandbox", "--port", str(port)])
    assert result.exit_code == 2 and f"cannot listen on 127.0.0.1 port {port}" in result.stderr
    result = CliRunner().invoke(main, ["sandbox", "--host", "192.0.2.1"])
    assert result.exit_code == 2 and "loopback addresses only" in result.stderr


# --- another PgBouncer: prepared statements through the pool -------------------------------------------------


def test_the_sandbox_can_run_a_pgbouncer_that_keeps_prepared_statements() -> None:
    try:
        binary = find_new_pgbouncer()
        with Sandbox.start(pgbouncer=binary, max_prepared_statements=100) as started:
            assert started.servers.pgbouncer_version() >= (1, 21)
            with _servers._admin_connect(started.servers.admin_conninfo()) as conn:
                config = {row["key"]: row["value"] for row in conn.execute("SHOW CONFIG").fetchall()}
            assert config["max_prepared_statements"] == "100"
    except ServersUnavailable as exc:
        _unavailable(str(exc))


def test_the_command_passes_its_pgbouncer_options_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[dict[str, object]] = []

    def start(**kwargs: object) -> None:
        seen.append(kwargs)
        raise ServersUnavailable("pgbouncer failed (1): ERROR unknown parameter: pgbouncer/max_prepared_statements")

    monkeypatch.setattr(Sandbox, "start", start)
    binary = tmp_path / "pgbouncer"
    binary.write_text("")
    result = CliRunner().invoke(main, ["sandbox", "--pgbouncer", str(binary), "--max-prepared-statements", "50"])
    assert result.exit_code == 1 and "unknown parameter" in result.stderr
    assert seen == [{"host": "127.0.0.1", "api_port": 0, "pgbouncer": binary, "max_prepared_statements": 50}]
    result = CliRunner().invoke(main, ["sandbox", "--max-prepared-statements", "-1"])
    assert result.exit_code == 2 and len(seen) == 1
    result = CliRunner().invoke(main, ["sandbox", "--pgbouncer", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "does not exist" in result.stderr and len(seen) == 1
