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
    if mode == "stubborn":
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    elif mode == "wait":  # set before "leaked" is printed: the test signals as soon as it reads it
        signal.signal(signal.SIGINT, lambda signum, frame: sys.exit(42))
    print("leaked", flush=True)
    while mode in ("wait", "stubborn"):
        signal.pause()
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
                     "1 needed", err)  # fmt: skip
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
                     r"in use, 3 more reserved for superusers\), 1 needed", out), out  # fmt: skip
    assert "dry run: nothing was run" in out
    assert_clean(result, pg_server)


# -- headroom ------------------------------------------------------------------------------------------------------


def test_no_headroom_refuses_with_the_numbers_and_runs_nothing(
    api: str, pg_server: RealServers, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    with ExitStack() as stack:
        _hold(stack, pg_server, 20, "gunicorn")
        result = run(api, "migrate", "--headroom", "3", "--wait", "0", "--",
                     sys.executable, "-c", f"open({str(marker)!r}, 'w')")
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
    assert "after waiting 30s: the server is full (it refused do-pgpool's connection), 1 free slots needed" in err
    assert "do-pgpool restart --app APP" in err and "terminate-idle" not in err and "--headroom" not in err


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
    expected = "exited with status 42" if how == "SIGINT" else "was killed by signal 15 (SIGTERM, status 143)"
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
    assert "the command was killed by signal 9 (SIGKILL, status 137); 3 session(s) left behind" in err
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
    result = run("http://127.0.0.1:9", "migrate", "--", str(tmp_path))
    assert result.exit_code == 126 and f"cannot run {tmp_path}: it is a directory" in result.stderr


def test_a_headroom_the_cluster_can_never_have_is_refused_at_once(api: str, pg_server: RealServers) -> None:
    """22 non-superuser slots, one of them do-pgpool's own: 22 free can never be; no waiting for --wait."""
    result, fake = run_on_wait_clock(api, "--headroom", "22", "--wait", "10m", "--", sys.executable, "-V")
    assert result.exit_code == 1, result.output
    assert fake.sleeps == []
    err = " ".join(result.stderr.split())
    assert re.search(r"22 free slots can never be had on app-db: its limit is 22 non-superuser slots \(max_connections "
                     r"25, 3 reserved for superusers\) and do-pgpool's own session takes one, so at most 21 can be "
                     r"free; the command did not run \(now \d+ in use, \d+ free\)\. What to do: ask for at most 21 "
                     r"with --headroom 21, or resize the cluster for more connections: do-pgpool resize --cluster "
                     r"app-db --connections N\.", err), err  # fmt: skip
    assert "Python" not in result.stdout  # it did not run
    result, fake = run_on_wait_clock(api, "--headroom", "21", "--wait", "0", "--", sys.executable, "-c", "")
    assert result.exit_code in (0, 1) and "can never be had" not in result.stderr  # 21 can be, on an idle server


def test_the_command_is_shown_as_a_shell_would_take_it(api: str, pg_server: RealServers) -> None:
    result = run(api, "migrate", "--dry-run", "--", "sh", "-c", 'psql "$DATABASE_URL" -f x.sql')
    assert result.exit_code == 0, result.output
    assert """command: sh -c 'psql "$DATABASE_URL" -f x.sql'""" in result.stdout


@pytest.mark.parametrize(("args", "message"), [
    ([], "no command to run"),
    (["--env-var", "1BAD", "--", "true"], "must be an environment variable name"),
    (["--headroom", "-1", "--", "true"], "--headroom"),
    (["--env-var", "PATH", "--", "true"], "none of PATH, HOME, SHELL, PGAPPNAME"),
    (["--env-var", "pgappname", "--", "true"], "none of PATH"),
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


@pytest.mark.parametrize("keep", [False, True])
def test_the_command_gets_the_database_not_the_account_token_unless_kept(
    api: str, tmp_path: Path, keep: bool
) -> None:
    seen = tmp_path / "env.json"
    probe = (f"import json, os; json.dump({{k: k in os.environ for k in ('DIGITALOCEAN_TOKEN', "
             f"'DIGITALOCEAN_ACCESS_TOKEN', 'DATABASE_URL')}}, open({str(seen)!r}, 'w'))")  # fmt: skip
    env = {"DIGITALOCEAN_TOKEN": TOKEN, "DIGITALOCEAN_ACCESS_TOKEN": TOKEN}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)  # the command's environment comes from the process's own
        result = run(api, "migrate", *(["--keep-token"] if keep else []), "--", sys.executable, "-c", probe)
    assert result.exit_code == 0, result.output
    assert json.loads(seen.read_text()) == {
        "DIGITALOCEAN_TOKEN": keep, "DIGITALOCEAN_ACCESS_TOKEN": keep, "DATABASE_URL": True}


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


# -- the cleanup has a time limit of its own ------------------------------------------------------------------------

# ends do-pgpool's own session (as a failover or an idle timeout would), then leaves 2 sessions to a detached worker
LOSE_OWN_SESSION = textwrap.dedent('''
    import os, signal, subprocess, sys, psycopg
    url = os.environ["DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = 'do-pgpool'")
    r, w = os.pipe()
    worker = subprocess.Popen([sys.executable, "-c", """
    import os, signal, sys, psycopg
    conns = [psycopg.connect(os.environ["DATABASE_URL"]) for _ in range(2)]
    os.write(int(sys.argv[1]), b"ready")
    signal.pause()
    """, str(w)], pass_fds=(w,), start_new_session=True, stdin=subprocess.DEVNULL)
    os.close(w)
    open(sys.argv[1], "w").write(str(worker.pid))
    assert os.read(r, 5) == b"ready"
''')


def test_a_command_that_outlasts_the_timeout_is_cleaned_up_after_over_a_new_session(
    pg_server: RealServers, empty_pg: RealServers, tmp_path: Path
) -> None:
    """The run's time limit is long gone when the command ends (a long migration) and do-pgpool's own session was
    lost meanwhile: the cleanup reconnects within a time limit of its own."""
    from do_pgpool import DigitalOcean
    from do_pgpool._deadline import Deadline
    from do_pgpool.ops._migrate import migrate

    fake = FakeDigitalOcean()
    local_cluster(fake, pg_server)
    script, pidfile = tmp_path / "lose.py", tmp_path / "worker.pid"
    script.write_text(LOSE_OWN_SESSION, encoding="utf-8")
    clock = FakeClock()
    try:
        with DigitalOcean("fake-token", http=fake.http_client()) as gateway, Deadline(60, clock=clock).scope():
            result = migrate(gateway, "app-db", [sys.executable, str(script), str(pidfile)], forward_sigint=True,
                             on_started=lambda plan, pid: clock.advance(3600))  # an hour-long migration
    finally:
        if pidfile.exists():
            os.kill(int(pidfile.read_text()), signal.SIGKILL)
    assert result.cleanup_error is None, result.cleanup_error
    assert result.status == 0 and len(result.cleaned) == 2


def test_a_cleanup_on_a_server_that_stopped_answering_ends_within_its_limit(empty_pg: RealServers) -> None:
    """A server that holds the query without answering (here: a lock) cannot hold the cleanup past its limit."""
    from do_pgpool.ops._migrate import _clean_up
    from do_pgpool.postgres._connect import connect

    conn = connect(empty_pg.direct_url())
    with psycopg_connect(empty_pg.superuser_conninfo(), autocommit=False) as locker:
        locker.execute("LOCK TABLE pg_catalog.pg_class IN ACCESS EXCLUSIVE MODE")  # pg_stat_activity's query waits
        cleaned, kept, error = _clean_up(conn, lambda: connect(empty_pg.direct_url()), PREFIX + "x", lambda s: None,
                                         timeout=0.5)  # fmt: skip
        locker.rollback()
    assert (cleaned, kept) == ((), ())
    assert error is not None and "did not answer within" in str(error) and "the cleanup's own time limit" in str(error)
    assert conn.closed


# -- with temporary trusted-source access ---------------------------------------------------------------------------

ME = "203.0.113.7"
OTHERS = [{"type": "tag", "value": "backend"}, {"type": "ip_addr", "value": "192.0.2.10", "description": "office"}]

# writes the trusted sources the fake API lists while the command runs (values, JSON) to argv[2], exits argv[3]
LOOK_AT_FIREWALL = textwrap.dedent('''
    import json, sys, urllib.request
    api, out, status = sys.argv[1], sys.argv[2], int(sys.argv[3])
    request = urllib.request.Request(api, headers={"Authorization": "Bearer dop_v1_another_token"})  # not ours: gone
    with urllib.request.urlopen(request, timeout=10) as answer:
        json.dump([r["value"] for r in json.load(answer)["rules"]], open(out, "w"))
    sys.exit(status)
''')


@pytest.fixture
def locked(pg_server: RealServers, empty_pg: RealServers) -> Iterator[tuple[FakeDigitalOcean, str, str]]:
    """A cluster (the local PostgreSQL) that trusts two other sources, not this machine."""
    fake = FakeDigitalOcean()
    cluster = local_cluster(fake, pg_server)
    fake.databases.update_firewall_rules(cluster.id, {"rules": OTHERS})
    with fake.serve() as url:
        yield fake, url, cluster.id


def _look(tmp_path: Path, url: str, cid: str, status: int) -> tuple[list[str], Path]:
    script, out = tmp_path / "look.py", tmp_path / "rules.json"
    script.write_text(LOOK_AT_FIREWALL, encoding="utf-8")
    return [sys.executable, str(script), f"{url}/v2/databases/{cid}/firewall", str(out), str(status)], out


def _values(fake: FakeDigitalOcean, cid: str) -> list[str]:
    return [r["value"] for r in fake.databases.list_firewall_rules(cid)]


@pytest.mark.parametrize("status", [0, 5])
def test_temporary_access_lets_the_command_in_and_is_removed_after(
    locked: tuple[FakeDigitalOcean, str, str], pg_server: RealServers, tmp_path: Path, status: int
) -> None:
    fake, url, cid = locked
    command, out = _look(tmp_path, url, cid, status)
    result = run(url, "migrate", "--my-ip", ME, "--temporary-access", "--", *command)
    assert result.exit_code == status, result.output
    assert json.loads(out.read_text()) == ["backend", "192.0.2.10", ME]  # there while the command ran
    assert _values(fake, cid) == ["backend", "192.0.2.10"]  # and gone after, the others untouched
    err = result.stderr
    assert err.index(f"added trusted source ip_addr {ME}") < err.index("do-pgpool migrate: running") < err.index(
        f"the command exited with status {status}") < err.index(f"removed trusted source ip_addr {ME}")
    assert_clean(result, pg_server)


def test_my_ip_alone_refuses_an_untrusted_address_before_anything_runs(
    locked: tuple[FakeDigitalOcean, str, str], tmp_path: Path
) -> None:
    fake, url, cid = locked
    fake.databases.update_firewall_rules(cid, {"rules": OTHERS[1:]})  # ip_addr rules only: known not to cover ME
    command, out = _look(tmp_path, url, cid, 0)
    result = run(url, "migrate", "--my-ip", ME, "--", *command)
    assert result.exit_code == 1 and not out.exists(), result.output
    assert f"{ME} is not among the cluster's trusted sources" in result.stderr and "--temporary-access" in result.stderr
    assert len(fake.calls_to("PUT", f"/v2/databases/{cid}/firewall")) == 0
    result = run(url, "migrate", "--my-ip", "192.0.2.10", "--", *command)  # a trusted address goes on
    assert result.exit_code == 0 and json.loads(out.read_text()) == ["192.0.2.10"], result.output


def test_a_bad_command_costs_no_trusted_source_write(locked: tuple[FakeDigitalOcean, str, str]) -> None:
    fake, url, cid = locked
    result = run(url, "migrate", "--my-ip", ME, "--temporary-access", "--", "no-such-command-xyz")
    assert result.exit_code == 127
    result = run(url, "migrate", "--my-ip", ME, "--temporary-access", "--env-var", "PATH", "--", "true")
    assert result.exit_code == 2
    assert fake.calls_to("GET", f"/v2/databases/{cid}/firewall") == []  # nothing was even read


def test_the_rule_is_removed_after_the_run_s_timeout_has_passed(
    locked: tuple[FakeDigitalOcean, str, str], pg_server: RealServers, leaker: tuple[Path, Path]
) -> None:
    """A migration longer than --timeout: the removal has a time limit of its own, counted from when it starts."""
    fake, url, cid = locked
    script, pidfile = leaker
    clock = FakeClock()

    def sleep(seconds: float) -> None:  # the cleanup's settle: by now, the command ran for an hour
        clock.sleep(seconds)
        clock.advance(3600)

    result, _ = run_on_wait_clock(url, "--timeout", "1m", "--my-ip", ME, "--temporary-access", "--", sys.executable,
                                  str(script), "exit", "0", str(pidfile), "2", clock=clock, sleep=sleep)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2 session(s) left behind" in result.stderr and f"removed trusted source ip_addr {ME}" in result.stderr
    assert _values(fake, cid) == ["backend", "192.0.2.10"]


@pytest.mark.parametrize(("status", "code"), [(0, 1), (3, 3)])
def test_a_rule_that_cannot_be_removed_is_said_with_how_to_remove_it(
    locked: tuple[FakeDigitalOcean, str, str], pg_server: RealServers, tmp_path: Path, status: int, code: int
) -> None:
    """Removal fails (every PUT after the add answers 403): the rule left is named, with the command to remove it;
    a command that succeeded turns into exit 1 (a trusted source left open must not pass unnoticed)."""
    fake, url, cid = locked
    command, out = _look(tmp_path, url, cid, status)
    original = fake.databases.update_firewall_rules

    def add_then_fail(**kwargs: Any) -> None:  # the add goes through; every PUT after it is refused
        original(**kwargs)
        fake.faults.fail_next("PUT", "/firewall$", status=403, times=None)

    fake.databases.update_firewall_rules = add_then_fail  # type: ignore[method-assign]
    result = run(url, "migrate", "--my-ip", ME, "--temporary-access", "--", *command)
    assert result.exit_code == code, result.output
    assert json.loads(out.read_text()) == ["backend", "192.0.2.10", ME]
    assert _values(fake, cid) == ["backend", "192.0.2.10", ME]  # left: said so
    err = " ".join(result.stderr.split())
    uuid = fake.databases.list_firewall_rules(cid)[2]["uuid"]
    assert f"trusted source ip_addr {ME} (uuid {uuid}) added by this run is still on cluster {cid}" in err
    assert f"doctl databases firewalls remove {cid} --uuid {uuid}" in err
    assert "removed trusted source" not in err
    assert f"the command exited with status {status}" in err
    assert f"exiting with {code}" in err


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM"])
def test_a_signal_during_the_command_still_removes_the_rule(
    locked: tuple[FakeDigitalOcean, str, str], pg_server: RealServers, leaker: tuple[Path, Path], how: str
) -> None:
    fake, url, cid = locked
    script, pidfile = leaker
    proc = _spawn(url, "--my-ip", ME, "--temporary-access", "--", sys.executable, str(script), "wait", "0",
                  str(pidfile), "2")  # fmt: skip
    try:
        assert _read_line(proc) == "leaked"
        assert _values(fake, cid) == ["backend", "192.0.2.10", ME]
        proc.send_signal(signal.Signals[how])
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 128 + signal.Signals[how], err
    assert _values(fake, cid) == ["backend", "192.0.2.10"]
    assert "2 session(s) left behind" in err and f"removed trusted source ip_addr {ME}" in err
    assert sessions(pg_server) == [] and "Traceback" not in err


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_signal_while_waiting_for_headroom_removes_the_rule(
    locked: tuple[FakeDigitalOcean, str, str], pg_server: RealServers, tmp_path: Path, how: str
) -> None:
    """Stopped before the command started (a Ctrl-C, a CI runner cancelling the job): nothing ran, the rule is gone,
    and do-pgpool exits 128 + the signal."""
    fake, url, cid = locked
    marker = tmp_path / "ran"
    clock = FakeClock()

    def sleep(seconds: float) -> None:  # the server is full: the signal comes while do-pgpool waits
        clock.sleep(seconds)
        os.kill(os.getpid(), signal.Signals[how])

    with ExitStack() as stack:
        _hold(stack, pg_server, 22, "gunicorn")
        result, _ = run_on_wait_clock(url, "--my-ip", ME, "--temporary-access", "--", sys.executable, "-c",
                                      f"open({str(marker)!r}, 'w')", clock=clock, sleep=sleep)  # fmt: skip
    assert result.exit_code == 128 + signal.Signals[how], result.output
    assert not marker.exists()
    assert _values(fake, cid) == ["backend", "192.0.2.10"]
    assert f"removed trusted source ip_addr {ME}" in result.stderr
    assert "Interrupted before the command started: nothing was run." in result.stderr


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM"])
def test_a_signal_while_the_rule_is_being_removed_waits_for_the_removal(
    locked: tuple[FakeDigitalOcean, str, str], pg_server: RealServers, how: str
) -> None:
    fake, url, cid = locked
    original = fake.databases.update_firewall_rules
    puts: list[int] = []

    def put(**kwargs: Any) -> None:  # the fake serves from a thread of this process: the signal reaches do-pgpool
        puts.append(1)
        if len(puts) == 2:  # the removal
            os.kill(os.getpid(), signal.Signals[how])
        original(**kwargs)

    fake.databases.update_firewall_rules = put  # type: ignore[method-assign]
    result, _ = run_on_wait_clock(url, "--my-ip", ME, "--temporary-access", "--", sys.executable, "-c", "")
    assert result.exit_code == 128 + signal.Signals[how], result.output
    assert _values(fake, cid) == ["backend", "192.0.2.10"] and len(puts) == 2
    assert "the command exited with status 0" in result.stderr
    assert f"removed trusted source ip_addr {ME}" in result.stderr
    assert "interrupted after the command, while the temporary trusted source was being removed" in result.stderr


def test_a_ctrl_c_during_the_cleanup_waits_for_it(api: str, pg_server: RealServers, leaker: tuple[Path, Path]) -> None:
    """The cleanup is bounded, so a Ctrl-C that comes during it is recorded, not acted on: the sessions are still
    terminated, and do-pgpool exits 130."""
    script, pidfile = leaker
    clock = FakeClock()

    def sleep(seconds: float) -> None:  # the cleanup's settle, between its two listings
        clock.sleep(seconds)
        os.kill(os.getpid(), signal.SIGINT)

    result, _ = run_on_wait_clock(api, "--", sys.executable, str(script), "exit", "0", str(pidfile), "3", clock=clock,
                                  sleep=sleep)  # fmt: skip
    assert result.exit_code == 130, result.output
    assert "interrupted (SIGINT, not passed on: the command got it from the terminal, or had already exited)" in (
        result.stderr)
    assert "3 session(s) left behind" in result.stderr and "3 terminated" in result.stderr
    assert sessions(pg_server) == []

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
