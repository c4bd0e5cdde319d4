"""``do-pgpool migrate -- CMD`` end to end: the fake API hands out the local PostgreSQL as the cluster, the command
is a small Python script that leaks connections the way a real deploy does (a detached worker that outlives it),
and the cleanup is checked in ``pg_stat_activity``. Nothing sleeps: the headroom wait runs on the wait clock, and
the Ctrl-C test waits only on pipes (each wait bounded)."""

from __future__ import annotations

import functools
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner, Result

from do_pgpool.testing import FakeClock, FakeDigitalOcean
from do_pgpool.testing._servers import RealServers, psycopg_connect
from tests.cli_runner import assert_none_shown, invoke
from tests.conftest_servers import local_cluster

TOKEN = "dop_v1_" + "m" * 8 + "migrate-cli-token"
PREFIX = "do-pgpool-migrate-"

pytestmark = pytest.mark.postgres

run = functools.partial(invoke, token=TOKEN)

# The command: starts a detached worker (its own session, like a leaked background job) that opens N connections
# with DATABASE_URL as given and holds them; writes the worker's pid to PIDFILE once they are open, prints
# "leaked", then exits with STATUS, or with "wait" blocks until a signal (exit 42 on SIGINT).
LEAKER = textwrap.dedent('''
    import os, signal, subprocess, sys
    mode, status, pidfile, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    WORKER = """
    import os, signal, sys, psycopg
    url, n = os.environ["DATABASE_URL"], int(sys.argv[2])
    conns = [psycopg.connect(url, autocommit=True) for _ in range(n)]
    while n == 0:  # 0: fill the server, then end do-pgpool's own session and take its slot too
        try:
            conns.append(psycopg.connect(url, autocommit=True))
        except psycopg.OperationalError:
            conns[0].execute("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                             "WHERE application_name = 'do-pgpool'")
            conns.append(psycopg.connect(url, autocommit=True))
            break
    os.write(int(sys.argv[1]), b"ready")
    os.close(int(sys.argv[1]))
    while True:
        signal.pause()
    """
    r, w = os.pipe()
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(w), str(n)], pass_fds=(w,), start_new_session=True,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(w)
    with open(pidfile, "w") as f:
        f.write(str(worker.pid))
    assert os.read(r, 5) == b"ready", "the worker died before opening its connections"
    print("leaked", flush=True)
    if mode == "stubborn":
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if mode in ("wait", "stubborn"):
        try:
            while True:
                signal.pause()
        except KeyboardInterrupt:
            sys.exit(42)
    sys.exit(status)
''')


@pytest.fixture
def api(pg_server: RealServers, empty_pg: RealServers) -> Iterator[str]:
    fake = FakeDigitalOcean()
    local_cluster(fake, pg_server)
    with fake.serve() as url:
        yield url


@pytest.fixture
def leaker(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """The leaking command's script and its worker's pidfile; the worker is killed afterwards (by its pid)."""
    script, pidfile = tmp_path / "leak.py", tmp_path / "worker.pid"
    script.write_text(LEAKER, encoding="utf-8")
    yield script, pidfile
    if pidfile.exists():
        try:
            os.kill(int(pidfile.read_text()), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


def sessions(servers: RealServers, like: str = PREFIX + "%") -> list[tuple[int, str, str]]:
    """(pid, application_name, state) of the client sessions whose application_name is LIKE ``like``."""
    with psycopg_connect(servers.superuser_conninfo()) as conn:
        return [tuple(r) for r in conn.execute(  # type: ignore[misc]
            "SELECT pid, application_name, state FROM pg_stat_activity WHERE backend_type = 'client backend' "
            "AND application_name LIKE %s ORDER BY pid", (like,)).fetchall()]  # fmt: skip


def _hold(stack: ExitStack, servers: RealServers, n: int, app: str) -> list[psycopg.Connection[Any]]:
    return [stack.enter_context(psycopg_connect(servers.direct_url(), application_name=app)) for _ in range(n)]


def run_on_wait_clock(api: str, *args: str, clock: FakeClock | None = None, sleep: Any = None) -> tuple[Result, Any]:
    """``do-pgpool migrate --api-url API ARGS`` in-process, its waits on a fake clock: (result, the clock)."""
    from do_pgpool.cli import main
    from do_pgpool.cli._progress import WaitClock

    fake = clock or FakeClock()
    waits = WaitClock(clock=fake, sleep=sleep or fake.sleep)
    result = CliRunner().invoke(main, ["migrate", "--api-url", api, *args], env={"DIGITALOCEAN_TOKEN": TOKEN},
                                obj=waits, catch_exceptions=False)  # fmt: skip
    return result, fake


def assert_clean(result: Result, servers: RealServers) -> None:
    assert_none_shown(result, TOKEN, servers.password)


# -- the leak is cleaned up, the status is kept ------------------------------------------------------------------


@pytest.mark.parametrize("status", [0, 3])
def test_a_command_that_leaks_5_sessions_leaves_none_and_keeps_its_status(
    api: str, pg_server: RealServers, leaker: tuple[Path, Path], status: int
) -> None:
    script, pidfile = leaker
    with ExitStack() as stack:
        bystanders = _hold(stack, pg_server, 2, "web")
        other_run = _hold(stack, pg_server, 1, PREFIX + "0therrun")  # another migration's session: not ours
        result, clock = run_on_wait_clock(api, "--cluster", "app-db", "--", sys.executable, str(script), "exit",
                                          str(status), str(pidfile), "5")  # fmt: skip
        assert result.exit_code == status, result.output
        assert clock.sleeps == [0.1]  # the 5 were still there a moment after the command exited: left behind
        assert all(c.execute("SELECT 1").fetchone() == (1,) for c in [*bystanders, *other_run])
    assert pidfile.exists()  # the worker did run, and it is still alive: only its sessions were ended
    os.kill(int(pidfile.read_text()), 0)
    assert sessions(pg_server) == []
    err = result.stderr
    assert f"the command exited with status {status}; 5 session(s) left behind (application_name {PREFIX}" in err
    assert "), 5 terminated" in err
    assert err.count("  terminated pid ") == 5
    assert "do-pgpool migrate: running " in err and "with DATABASE_URL = the direct connection to 127.0.0.1:" in err
    assert re.search(r"headroom: \d+ of 22 non-superuser slots free \(\d+ in use, 3 more reserved for superusers\), "
                     "3 needed", err)  # fmt: skip
    assert result.stdout == ""  # stdout belongs to the command (its output went to the real fd, not click's)
    assert_clean(result, pg_server)


def test_the_application_name_reaches_the_server_by_the_url_and_by_pgappname(
    api: str, pg_server: RealServers, tmp_path: Path
) -> None:
    """libpq drivers read PGAPPNAME, most others only the URL: both carry the name."""
    out = tmp_path / "names.json"
    script = tmp_path / "names.py"
    script.write_text(textwrap.dedent(f'''
        import json, os, psycopg
        from urllib.parse import urlsplit
        url = os.environ["MIGRATION_URL"]
        by_url = psycopg.connect(url, autocommit=True)
        bare = url.split("?")[0] + "?sslmode=require"
        by_env = psycopg.connect(bare, autocommit=True)
        names = [c.execute("SHOW application_name").fetchone()[0] for c in (by_url, by_env)]
        os.environ.pop("PGAPPNAME")
        without = psycopg.connect(url, autocommit=True).execute("SHOW application_name").fetchone()[0]
        json.dump({{"names": names, "url_only": without, "pgappname": names[1]}}, open({str(out)!r}, "w"))
    '''), encoding="utf-8")
    result = run(api, "migrate", "--env-var", "MIGRATION_URL", "--", sys.executable, str(script))
    assert result.exit_code == 0, result.output
    seen = json.loads(out.read_text())
    assert seen["names"][0] == seen["names"][1] == seen["url_only"]
    assert seen["names"][0].startswith(PREFIX) and len(seen["names"][0]) == len(PREFIX) + 8
    assert f"application_name {seen['names'][0]}" in result.stderr
    assert "it left no session behind" in result.stderr  # they were closed when the script exited
    assert_clean(result, pg_server)


def test_dry_run_shows_the_plan_and_runs_nothing(api: str, pg_server: RealServers, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    result = run(api, "migrate", "--dry-run", "--env-var", "DIRECT_URL", "--", sys.executable, "-c",
                 f"open({str(marker)!r}, 'w')")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert not marker.exists()
    out = result.stdout
    assert f"DIRECT_URL: the direct connection to 127.0.0.1:{pg_server.pg_port}/defaultdb (password not shown), " \
           f"application_name={PREFIX}" in out  # fmt: skip
    # 1 in use: do-pgpool's own session (and at times the fixtures' superuser session, still closing)
    assert re.search(r"headroom now: (21 of 22 non-superuser slots free \(1|20 of 22 non-superuser slots free \(2) "
                     r"in use, 3 more reserved for superusers\), 3 needed", out), out  # fmt: skip
    assert "dry run: nothing was run" in out
    assert_clean(result, pg_server)


# -- headroom ------------------------------------------------------------------------------------------------------


def test_no_headroom_refuses_with_the_numbers_and_runs_nothing(
    api: str, pg_server: RealServers, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    with ExitStack() as stack:
        _hold(stack, pg_server, 20, "gunicorn")
        result = run(api, "migrate", "--wait", "0", "--", sys.executable, "-c", f"open({str(marker)!r}, 'w')")
    assert result.exit_code == 1, result.output
    assert not marker.exists()
    err = " ".join(result.stderr.split())
    numbers = re.search(r"not enough headroom on app-db to start the command: (\d+) of 22 non-superuser slots in use "
                        r"\(3 more reserved for superusers, max_connections 25\), (\d+) free besides do-pgpool's own "
                        r"session, 3 needed; the command did not run\.", err)  # fmt: skip
    assert numbers is not None, err  # 20 + do-pgpool's own (+ at times the fixtures' superuser session, closing)
    assert int(numbers[1]) in (21, 22) and int(numbers[1]) + int(numbers[2]) == 22
    assert re.search(r"Held by application: gunicorn 20, (\(none\) 1, )?do-pgpool 1; by user: doadmin 21\b", err), err
    assert "do-pgpool terminate-idle --cluster app-db" in err and "--headroom N" in err and "--wait DURATION" in err
    assert_clean(result, pg_server)


def test_a_full_server_is_waited_for_then_refused(api: str, pg_server: RealServers, tmp_path: Path) -> None:
    with ExitStack() as stack:
        _hold(stack, pg_server, 22, "gunicorn")
        result, fake = run_on_wait_clock(api, "--wait", "30", "--", sys.executable, "-V")
    assert result.exit_code == 1, result.output
    assert fake.sleeps and sum(fake.sleeps) == 30  # read again and again until --wait, on the fake clock
    err = " ".join(result.stderr.split())
    assert "after waiting 30s: the server is full (it refused do-pgpool's connection), 3 free slots needed" in err


def test_it_waits_for_headroom_then_runs(api: str, pg_server: RealServers, leaker: tuple[Path, Path]) -> None:
    script, pidfile = leaker
    slept: list[float] = []
    fake = FakeClock()
    with ExitStack() as stack:
        held = _hold(stack, pg_server, 20, "old-release")

        def sleep(seconds: float) -> None:
            """While do-pgpool waits, 5 of the old release's sessions go (waited for on the server: a closed
            connection's backend leaves a moment later, and the fake clock's reads come at once)."""
            slept.append(seconds)
            fake.sleep(seconds)
            pids = [c.info.backend_pid for c in held[:5] if not c.closed]
            if pids:
                with psycopg_connect(pg_server.superuser_conninfo()) as su:
                    su.execute("SELECT pg_terminate_backend(pid, 5000) FROM unnest(%s::int[]) AS pid", (pids,))

        result, _ = run_on_wait_clock(api, "--headroom", "5", "--", sys.executable, str(script), "exit", "0",
                                      str(pidfile), "2", clock=fake, sleep=sleep)  # fmt: skip
        assert result.exit_code == 0, result.output
        assert [c.execute("SELECT 1").fetchone() for c in held[5:]] == [(1,)] * 15  # the others were not touched
    assert slept == [2.0, 0.1]  # one reading too full, the next one fine; then the cleanup's settle
    assert "waited 2 s for headroom" in result.stderr
    assert "2 session(s) left behind" in result.stderr and sessions(pg_server) == []


# -- a failed cleanup -------------------------------------------------------------------------------------------


def test_a_failed_cleanup_is_said_and_the_command_s_status_is_kept(
    api: str, pg_server: RealServers, leaker: tuple[Path, Path]
) -> None:
    """The command fills the server and ends do-pgpool's own session: the cleanup cannot connect."""
    script, pidfile = leaker
    result, _ = run_on_wait_clock(api, "--", sys.executable, str(script), "exit", "3", str(pidfile), "0")
    assert result.exit_code == 3, result.output
    err = " ".join(result.stderr.split())
    assert "the command exited with status 3; cleaning up after it failed: PostgreSQL at 127.0.0.1:" in err
    assert "refused the connection because it is full" in err
    assert "exiting with the command's status 3; to end what it left, run: do-pgpool terminate-idle --application " \
           f"{PREFIX}" in err  # fmt: skip
    assert len(sessions(pg_server)) == 22  # the worker holds them all until it is killed (the fixture does it)
    assert_clean(result, pg_server)


# -- Ctrl-C, in a real process ---------------------------------------------------------------------------------------


def _spawn(api: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "DIGITALOCEAN_TOKEN": TOKEN}
    return subprocess.Popen([sys.executable, "-m", "do_pgpool", "migrate", "--api-url", api, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                            env=env, start_new_session=True)  # fmt: skip  # no terminal: signals are passed on


def _read_line(proc: subprocess.Popen[str], within: float = 60) -> str:
    """The next line the command prints (do-pgpool's stdout is the command's), waiting at most ``within``."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        assert sel.select(within), "the command printed nothing in time"
    return proc.stdout.readline().strip()


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM"])
def test_ctrl_c_stops_the_command_cleans_up_and_exits_130(
    api: str, pg_server: RealServers, leaker: tuple[Path, Path], how: str
) -> None:
    script, pidfile = leaker
    proc = _spawn(api, "--", sys.executable, str(script), "wait", "0", str(pidfile), "5")
    try:
        assert _read_line(proc) == "leaked"
        assert len(sessions(pg_server)) == 5
        proc.send_signal(signal.Signals[how])
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 128 + signal.Signals[how], err
    assert sessions(pg_server) == []
    assert f"interrupted ({how}, passed on to it)" in err
    expected = "exited with status 42" if how == "SIGINT" else "was killed by signal 15 (status 143)"
    assert f"the command {expected}; 5 session(s) left behind" in err and "5 terminated" in err
    assert "Traceback" not in err and TOKEN not in err and pg_server.password not in err


def test_a_command_that_ignores_ctrl_c_is_killed_after_the_grace(
    api: str, pg_server: RealServers, leaker: tuple[Path, Path]
) -> None:
    script, pidfile = leaker
    proc = _spawn(api, "--grace", "0", "--", sys.executable, str(script), "stubborn", "0", str(pidfile), "3")
    try:
        assert _read_line(proc) == "leaked"
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 130, err
    assert "interrupted (SIGINT, the command was killed (after --grace, or on a second signal))" in err
    assert "the command was killed by signal 9 (status 137); 3 session(s) left behind" in err
    assert sessions(pg_server) == []


# -- usage --------------------------------------------------------------------------------------------------------


def test_a_missing_command_is_127_before_any_request(tmp_path: Path) -> None:
    result = run("http://127.0.0.1:9", "migrate", "--", "no-such-command-xyz", "--flag")
    assert result.exit_code == 127
    assert "cannot run no-such-command-xyz: command not found on PATH" in result.stderr
    script = tmp_path / "not-executable.sh"
    script.write_text("#!/bin/sh\n", encoding="utf-8")
    result = run("http://127.0.0.1:9", "migrate", "--", str(script))
    assert result.exit_code == 126 and "not executable" in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    ([], "no command to run"),
    (["--env-var", "1BAD", "--", "true"], "must be an environment variable name"),
    (["--headroom", "-1", "--", "true"], "--headroom"),
])  # fmt: skip
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = run("http://127.0.0.1:9", "migrate", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_options_after_the_command_belong_to_the_command(api: str, pg_server: RealServers, tmp_path: Path) -> None:
    out = tmp_path / "argv.json"
    result = run(api, "migrate", sys.executable, "-c", f"import json,sys; json.dump(sys.argv, open({str(out)!r}, 'w'))",
                 "--dry-run", "--headroom", "9")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == ["-c", "--dry-run", "--headroom", "9"]


def test_the_url_gets_the_application_name_and_keeps_the_rest() -> None:
    from do_pgpool.ops._migrate import migration_env, migration_url, new_application_name

    url = migration_url("postgresql://u:p%40w@h:25060/db?sslmode=require&application_name=old", "do-pgpool-migrate-1")
    assert url == "postgresql://u:p%40w@h:25060/db?sslmode=require&application_name=do-pgpool-migrate-1"
    env = migration_env({"PATH": "/bin"}, env_var="DATABASE_URL", url=url, application_name="do-pgpool-migrate-1")
    assert env == {"PATH": "/bin", "DATABASE_URL": url, "PGAPPNAME": "do-pgpool-migrate-1"}
    assert new_application_name() != new_application_name()


def test_a_second_signal_kills_the_command_at_once() -> None:
    """No database: the first SIGINT is not passed on (as when the terminal delivered it), the second kills."""
    from do_pgpool.ops._child import SignalSpan

    span = SignalSpan(grace=600, forward_sigint=False)

    def started(pid: int) -> None:
        span.handle(signal.SIGINT)  # not passed on; the grace period (600 s) starts
        span.handle(signal.SIGINT)  # the second one: killed now

    ended = span.run([sys.executable, "-c", "import time; time.sleep(600)"], env=os.environ, on_started=started)
    assert (ended.status, ended.signal, ended.killed, ended.forwarded) == (137, 9, True, None)
    assert span.interrupted == signal.SIGINT and span.received == [signal.SIGINT, signal.SIGINT]


def test_a_session_that_closes_by_itself_right_after_the_command_is_not_counted(empty_pg: RealServers) -> None:
    """The cleanup lists, lets a moment pass (the wait clock's sleep), and counts only the sessions still there."""
    from do_pgpool.ops._migrate import _clean_up
    from do_pgpool.postgres._connect import connect

    name = PREFIX + "settle01"
    with ExitStack() as stack:
        leftovers = _hold(stack, empty_pg, 3, name)
        bystander = _hold(stack, empty_pg, 1, PREFIX + "settle02")[0]
        own = connect(empty_pg.direct_url())

        def closing_meanwhile(seconds: float) -> None:
            """The command's own connection, closed as it exited, leaves during the settle: here it is made to
            leave, and waited for (server side, bounded), so the second listing cannot race it."""
            with psycopg_connect(empty_pg.superuser_conninfo()) as su:
                su.execute("SELECT pg_terminate_backend(%s, 5000)", (leftovers[0].info.backend_pid,))
            assert len(sessions(empty_pg, name)) == 2

        cleaned, kept, error = _clean_up(own, lambda: connect(empty_pg.direct_url()), name, closing_meanwhile)
        assert (len(cleaned), kept, error) == (2, (), None)
        assert own.closed and bystander.execute("SELECT 1").fetchone() == (1,)
    assert sessions(empty_pg, name) == []


def test_a_command_that_outlasts_the_timeout_is_still_cleaned_up_after(
    api: str, pg_server: RealServers, leaker: tuple[Path, Path]
) -> None:
    """--timeout bounds do-pgpool's work before CMD; the cleanup after CMD has its own bound. The run's clock
    jumps an hour while CMD runs (its worker's pidfile appears), past the 5m --timeout."""
    script, pidfile = leaker

    class Jumps(FakeClock):
        def now(self) -> float:
            return super().now() + (3600.0 if pidfile.exists() else 0.0)

    result, _ = run_on_wait_clock(api, "--timeout", "5m", "--", sys.executable, str(script), "exit", "0",
                                  str(pidfile), "3", clock=Jumps())  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sessions(pg_server) == []
    assert "3 session(s) left behind" in result.stderr
