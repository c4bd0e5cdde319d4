"""Diagnosis and remediation: verdict arithmetic without a server, everything else against real servers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import psycopg
import pytest

from do_pgpool._exceptions import ConfigError, DatabaseError
from do_pgpool.postgres._connect import SATURATION_MARKERS, connect, is_saturation_message
from do_pgpool.postgres._terminate import find_idle, terminate
from do_pgpool.postgres._usage import Session, Usage, snapshot, verdict
from do_pgpool.postgres._verify import verify_pool
from do_pgpool.testing._servers import RealServers, free_port, psycopg_connect
from tests.conftest_servers import POOL_NAME

# --- verdict: pure -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("used", "limit", "level", "free"),
    [
        (0, 22, "ok", 22),
        (17, 22, "ok", 5),  # 77 %
        (18, 22, "near", 4),  # 82 %: from 80 % on
        (8, 10, "near", 2),  # exactly 80 %
        (7, 10, "ok", 3),
        (21, 22, "near", 1),
        (22, 22, "saturated", 0),  # no non-reserved slot left
        (25, 22, "saturated", 0),  # superusers in the reserved slots
        (0, 0, "saturated", 0),
    ],
)
def test_verdict_levels_and_numbers(used: int, limit: int, level: str, free: int) -> None:
    v = verdict(used, limit)
    assert (v.level, v.used, v.limit, v.free) == (level, used, limit, free)
    assert f"{used} of {limit}" in v.describe()
    assert v.as_dict()["level"] == level


def test_verdict_message_says_new_connections_are_refused_when_saturated() -> None:
    assert verdict(22, 22).describe() == (
        "saturated: 22 of 22 non-superuser connection slots in use, 0 free; new connections are refused"
    )
    assert verdict(18, 22).describe().startswith("near the limit: 18 of 22")


@pytest.mark.parametrize(
    "message",
    [
        'connection failed: connection to server at "10.0.0.1", port 25060 failed: FATAL:  remaining connection '
        "slots are reserved for non-replication superuser connections",  # PostgreSQL <= 15
        "FATAL:  remaining connection slots are reserved for roles with the SUPERUSER attribute",  # 16+
        'FATAL:  remaining connection slots are reserved for roles with privileges of the "pg_use_reserved_'
        'connections" role',  # 16+
        "FATAL:  sorry, too many clients already",
    ],
)
def test_saturation_is_recognised_in_every_server_version(message: str) -> None:
    assert is_saturation_message(message)


def test_other_connect_failures_are_not_saturation() -> None:
    assert not is_saturation_message('FATAL:  password authentication failed for user "doadmin"')
    assert not is_saturation_message("Connection refused")
    assert len(SATURATION_MARKERS) == 2


def _session(pid: int, state: str | None, age: float | None, user: str = "doadmin", app: str = "web") -> Session:
    return Session(pid=pid, user=user, application=app, database="defaultdb", state=state,
                   state_age_seconds=age, client_addr="10.0.0.5")  # fmt: skip


def test_usage_counts_by_state_user_and_application_and_finds_the_oldest() -> None:
    sessions = (
        _session(1, "idle", 40.0),
        _session(2, "idle", 900.0, app="worker"),
        _session(3, "active", 0.1),
        _session(4, "idle in transaction", 65.0, user="app"),
        _session(5, "idle in transaction (aborted)", 70.0, user="app"),
        _session(6, None, None, user=None, app=""),  # not visible to this role
    )
    usage = Usage(max_connections=25, superuser_reserved=3, sessions=sessions, self_pid=3)
    assert (usage.limit, usage.total, usage.free) == (22, 6, 16)
    assert usage.by_state == {"idle": 2, "active": 1, "idle in transaction": 1,
                              "idle in transaction (aborted)": 1, "unknown": 1}  # fmt: skip
    assert usage.by_user == {"doadmin": 3, "app": 2, "unknown": 1}
    assert usage.by_application == {"web": 4, "(none)": 1, "worker": 1}
    assert usage.oldest_idle is not None and usage.oldest_idle.pid == 2
    assert usage.oldest_idle_in_transaction is not None and usage.oldest_idle_in_transaction.pid == 5
    data = usage.as_dict()
    json.dumps(data)
    assert data["verdict"] == {"level": "ok", "used": 6, "limit": 22, "free": 16,
                               "message": "ok: 6 of 22 non-superuser connection slots in use, 16 free"}  # fmt: skip
    assert data["oldest_idle"]["pid"] == 2


def test_connect_failure_is_a_database_error_without_the_password() -> None:
    url = f"postgresql://doadmin:s3cr%21t-pw@127.0.0.1:{free_port()}/defaultdb?sslmode=disable"
    with pytest.raises(DatabaseError) as info:
        connect(url, connect_timeout=2)
    assert info.value.saturated is False
    assert "s3cr" not in str(info.value)
    assert "127.0.0.1" in str(info.value)


# --- against a real PostgreSQL -----------------------------------------------------------------------------


def _open(url: str, n: int, app: str) -> Iterator[psycopg.Connection[Any]]:
    for _ in range(n):
        yield psycopg_connect(url, application_name=app)


@pytest.mark.postgres
def test_wrong_password_is_reported_without_the_password(pg_server: RealServers) -> None:
    url = pg_server.direct_url().replace(pg_server.password, "not-the-Pa55word")
    with pytest.raises(DatabaseError) as info:
        connect(url)
    assert "password authentication failed" in str(info.value)
    assert "not-the-Pa55word" not in str(info.value)
    assert info.value.saturated is False


@pytest.mark.postgres
def test_full_server_refuses_with_saturated_error_then_status_terminate_and_free_slots(
    empty_pg: RealServers,
) -> None:
    url = empty_pg.direct_url("doadmin")
    with ExitStack() as stack:
        held: list[psycopg.Connection[Any]] = []
        refused: DatabaseError | None = None
        for _ in range(30):  # bounded: the server has 25 slots
            try:
                held.append(stack.enter_context(connect(url, application_name="leaky-web")))
            except DatabaseError as exc:
                refused = exc
                break
        # 25 slots - 3 reserved for superusers = 22 for doadmin, as on a 1 GiB DigitalOcean cluster
        assert len(held) == 22
        assert refused is not None and refused.saturated is True
        message = str(refused)
        assert "refused the connection because it is full" in message
        assert "remaining connection slots are reserved for" in message  # the server's own words
        for next_step in ("do-pgpool restart --app", "do-pgpool restart --cluster", "do-pgpool resize"):
            assert next_step in message
        assert "doadmin is not a superuser" in message
        assert empty_pg.password not in message

        # free one slot (as a restart of one app instance would); the tool takes it and sees the rest
        held.pop().close()
        tool = stack.enter_context(connect(url))
        usage = snapshot(tool)
        assert (usage.max_connections, usage.superuser_reserved, usage.limit) == (25, 3, 22)
        assert usage.total == 22
        assert usage.by_application == {"leaky-web": 21, "do-pgpool": 1}
        assert usage.by_user == {"doadmin": 22}
        assert usage.by_state.get("idle") == 21 and usage.by_state.get("active") == 1  # the tool is active
        assert usage.verdict.level == "saturated"
        assert [s.pid for s in usage.sessions if s.is_self] == [tool.info.backend_pid] == [usage.self_pid]
        assert usage.oldest_idle is not None and usage.oldest_idle.application == "leaky-web"

        # dry run: listing terminates nothing
        idle = find_idle(tool, idle_for=0, application="leaky-web")
        assert len(idle) == 21
        assert tool.info.backend_pid not in {s.pid for s in idle}
        assert snapshot(tool).total == 22

        result = terminate(tool, idle)
        assert len(result.terminated) == 21 and result.skipped == ()
        assert result.free_after == 21  # 22 - the tool's own session
        assert result.usage_after.total == 1
        assert result.describe() == "terminated 21 idle sessions; 21 of 22 non-superuser slots free"
        json.dumps(result.as_dict())
        with pytest.raises(psycopg.OperationalError):
            held[0].execute("SELECT 1")
        assert tool.execute("SELECT 1").fetchone() == (1,)  # never its own session


@pytest.mark.postgres
def test_find_idle_filters_by_age_user_application_and_transaction_state(empty_pg: RealServers) -> None:
    with ExitStack() as stack:
        for conn in _open(empty_pg.direct_url("doadmin"), 2, "web"):
            stack.enter_context(conn)
        for conn in _open(empty_pg.direct_url("app"), 3, "worker"):
            stack.enter_context(conn)
        in_tx = stack.enter_context(psycopg_connect(empty_pg.direct_url("app"), application_name="worker",
                                                    autocommit=False))  # fmt: skip
        in_tx.execute("SELECT 1")  # leaves it "idle in transaction"
        tool = stack.enter_context(connect(empty_pg.direct_url()))

        assert len(find_idle(tool, idle_for=0)) == 5
        assert find_idle(tool, idle_for=3600) == []  # nobody has been idle for an hour
        assert {s.user for s in find_idle(tool, idle_for=0, user="app")} == {"app"}
        assert len(find_idle(tool, idle_for=0, user="app")) == 3
        assert len(find_idle(tool, idle_for=0, application="web")) == 2
        with_tx = find_idle(tool, idle_for=0, include_idle_in_transaction=True)
        assert len(with_tx) == 6
        assert [s.pid for s in with_tx if s.state == "idle in transaction"] == [in_tx.info.backend_pid]
        assert snapshot(tool).oldest_idle_in_transaction is not None
        with pytest.raises(ConfigError, match="idle_for must be at least 0s"):
            find_idle(tool, idle_for=-1)


@pytest.mark.postgres
def test_terminate_skips_own_session_superusers_and_sessions_that_became_busy(empty_pg: RealServers) -> None:
    with ExitStack() as stack:
        su = stack.enter_context(psycopg_connect(empty_pg.superuser_conninfo(), application_name="dba"))
        web = stack.enter_context(psycopg_connect(empty_pg.direct_url("app"), application_name="web"))
        tool = stack.enter_context(connect(empty_pg.direct_url()))
        own = next(s for s in snapshot(tool).sessions if s.is_self)
        listed = find_idle(tool, idle_for=0)
        assert {s.application for s in listed} == {"dba", "web"}
        web.execute("SELECT 1")  # web is busy after it was listed: its state_change moved

        result = terminate(tool, [*listed, own])

        assert result.terminated == ()
        reasons = {s.application: reason for s, reason in result.skipped}
        assert reasons["dba"].startswith("permission denied")  # doadmin may not signal a superuser
        assert reasons["web"].startswith("no longer an idle client session")
        assert reasons["do-pgpool"] == "this is do-pgpool's own session"
        assert su.execute("SELECT 1").fetchone() == (1,)
        assert web.execute("SELECT 1").fetchone() == (1,)
        assert tool.execute("SELECT 1").fetchone() == (1,)


# --- through PgBouncer -------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_verify_pool_runs_select_1_through_the_pool(pgbouncer_server: RealServers) -> None:
    result = verify_pool(pgbouncer_server.pool_url(POOL_NAME))
    assert result.connect_ms > 0 and result.query_ms > 0
    assert result.latency_ms == pytest.approx(result.connect_ms + result.query_ms)
    assert pgbouncer_server.password not in result.describe()
    assert result.target.endswith(f":{pgbouncer_server.bouncer_port}/{POOL_NAME}?sslmode=require")


@pytest.mark.postgres
def test_verify_pool_of_an_unknown_pool_is_a_database_error(pgbouncer_server: RealServers) -> None:
    url = pgbouncer_server.pool_url(POOL_NAME).replace(f"/{POOL_NAME}?", "/no-such-pool?")
    with pytest.raises(DatabaseError) as info:
        verify_pool(url)
    assert "no-such-pool" in str(info.value)
    assert pgbouncer_server.password not in str(info.value)


CLIENTS = 200
TX_PER_CLIENT = 10


@pytest.mark.postgres
def test_200_clients_through_the_pool_never_use_more_than_20_server_backends(
    pgbouncer_server: RealServers, empty_pg: RealServers
) -> None:
    url = pgbouncer_server.pool_url(POOL_NAME)
    errors: list[str] = []
    wrong: list[tuple[int, Any]] = []
    done = 0
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS + 1, timeout=60)
    stop_sampling = threading.Event()
    samples: list[int] = []

    def client(n: int) -> None:
        nonlocal done
        try:
            with psycopg.connect(url, prepare_threshold=None, connect_timeout=20, application_name=f"c{n}") as c:
                start.wait()
                for i in range(TX_PER_CLIENT):
                    with c.transaction():
                        row = c.execute("SELECT %s::int + 1, pg_sleep(0.002)", (n * 100 + i,)).fetchone()
                    if row is None or row[0] != n * 100 + i + 1:
                        with lock:
                            wrong.append((n, row))
                    with lock:
                        done += 1
        except (psycopg.Error, threading.BrokenBarrierError) as exc:
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")

    # sampled from a superuser over the unix socket (one reserved slot; not a doadmin backend)
    with psycopg_connect(pgbouncer_server.superuser_conninfo()) as su:

        def sample() -> None:
            while not stop_sampling.is_set():
                row = su.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                    "AND usename = 'doadmin'"
                ).fetchone()
                samples.append(int(row[0]) if row else -1)
                stop_sampling.wait(0.01)

        threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(CLIENTS)]
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        for t in threads:
            t.start()
        try:
            start.wait()
        except threading.BrokenBarrierError:
            pass
        deadline = time.monotonic() + 60
        for t in threads:
            t.join(timeout=max(deadline - time.monotonic(), 0.1))
        stop_sampling.set()
        sampler.join(timeout=5)

    assert not any(t.is_alive() for t in threads), "clients still running after 60 s"
    assert errors == []
    assert wrong == []
    assert done == CLIENTS * TX_PER_CLIENT
    assert samples and max(samples) <= 20
    assert max(samples) >= 2  # the pool really ran transactions concurrently
