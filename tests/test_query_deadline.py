"""Queries after the handshake end within the run's ``--timeout``: a server that accepts the connection and then
stalls (a query queued in PgBouncer for a free server connection, a long query) cannot hold a run. Real servers;
each stall is bounded at 1-2 s, and nothing else sleeps."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from do_pgpool._deadline import Deadline
from do_pgpool._exceptions import DatabaseError, DeadlineExceededError
from do_pgpool.postgres._connect import connect, mapped
from do_pgpool.postgres._usage import snapshot
from do_pgpool.testing import FakeDigitalOcean
from do_pgpool.testing._servers import RealServers, psycopg_connect
from tests.cli_runner import assert_none_shown, invoke
from tests.conftest_servers import PROBE_POOL_NAME

pytestmark = pytest.mark.postgres

TOKEN = "dop_v1_" + "q" * 8 + "query-deadline-token"


def _sleeping(servers: RealServers) -> list[int]:
    with psycopg_connect(servers.superuser_conninfo()) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%%' "
                            "AND state = 'active' AND pid <> pg_backend_pid()").fetchall()  # fmt: skip
    return [int(r[0]) for r in rows]


def test_a_query_still_running_at_the_deadline_ends_then_and_the_server_stops_it(pg_server: RealServers) -> None:
    with connect(pg_server.direct_url()) as conn, Deadline(1.0).scope():
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError) as caught, mapped(conn, "reading pg_stat_activity on"):
            conn.execute("SELECT pg_sleep(30)")
        took = time.monotonic() - started
    assert 0.9 <= took < 2.0
    message = str(caught.value)
    assert "gave up after the run's time limit (timeout=1s)" in message
    assert f"reading pg_stat_activity on {pg_server.host}:{pg_server.pg_port}/" in message
    assert "did not answer the query in time" in message and "DigitalOcean" not in message
    assert pg_server.password not in message
    # the cancel request follows the socket's shutdown: the backend stops sleeping (bounded loop, no sleep)
    until = time.monotonic() + 2.0
    while _sleeping(pg_server) and time.monotonic() < until:
        pass
    assert _sleeping(pg_server) == []


def test_a_query_that_ends_in_time_is_untouched_and_the_connection_stays_usable(pg_server: RealServers) -> None:
    with connect(pg_server.direct_url()) as conn, Deadline(30.0).scope():
        with mapped(conn, "reading on"):
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert snapshot(conn).total >= 1  # the watchdog of the block above was stopped, not left to fire
    assert conn.closed


def test_no_time_left_runs_no_query(pg_server: RealServers) -> None:
    now = [0.0]
    deadline = Deadline(1.0, clock=lambda: now[0])
    with connect(pg_server.direct_url()) as conn, deadline.scope():
        now[0] = 5.0
        with pytest.raises(DeadlineExceededError, match="ran out while reading on"), mapped(conn, "reading on"):
            pytest.fail("the block ran")  # pragma: no cover


def test_without_a_deadline_a_query_error_is_still_a_database_error(pg_server: RealServers) -> None:
    with connect(pg_server.direct_url()) as conn:
        with pytest.raises(DatabaseError, match="reading on"), mapped(conn, "reading on"):
            conn.execute("SELECT * FROM no_such_table")


@pytest.fixture
def stalled_pool(pgbouncer_server: RealServers) -> Iterator[RealServers]:
    """``probe-pool`` (one server connection) held by a client in a transaction: PgBouncer accepts and logs in
    the next client, then queues its queries."""
    with psycopg_connect(pgbouncer_server.pool_url(PROBE_POOL_NAME)) as holder:
        holder.execute("BEGIN")
        holder.execute("SELECT 1")
        yield pgbouncer_server
        holder.execute("ROLLBACK")


def test_status_against_a_server_that_stalls_after_the_handshake_ends_within_its_timeout(
    stalled_pool: RealServers,
) -> None:
    servers = stalled_pool
    fake = FakeDigitalOcean()
    assert servers.bouncer_port is not None
    cluster = fake.add_cluster("app-db", size="db-s-1vcpu-1gb", host=servers.host, port=servers.bouncer_port,
                               pool_port=servers.bouncer_port, password=servers.password, version="15",
                               db_names=(PROBE_POOL_NAME,))  # fmt: skip
    cluster.ca_pem = servers.ca_pem
    with fake.serve() as url:
        started = time.monotonic()
        result = invoke(url, "status", "--no-advice", "--timeout", "2", token=TOKEN)
        took = time.monotonic() - started
        prom = invoke(url, "status", "-o", "prometheus", "--timeout", "1", token=TOKEN)
    assert result.exit_code == 1, result.output
    assert took < 3.5  # 2 s, the API reads and the start-up
    said = "gave up after the run's time limit (--timeout 2s): it ran out while reading pg_stat_activity on"
    assert said in result.stderr and "did not answer the query in time" in result.stderr
    assert "connection budget: 22" in result.stdout and "live: unavailable: " + said in result.stdout  # API part kept
    assert "Traceback" not in result.output
    assert (prom.exit_code, prom.stdout.count("do_pgpool_live_usage_read{cluster=\"app-db\"} 0")) == (1, 1)
    assert_none_shown(result, TOKEN, servers.password)


def test_a_stalled_query_is_a_psycopg_error_for_callers_without_mapped(pg_server: RealServers) -> None:
    """The pool probe and verify use the watchdog directly: the shut-down socket is an ordinary driver error."""
    from do_pgpool.postgres._watchdog import Watchdog

    with connect(pg_server.direct_url()) as conn:
        dog = Watchdog(conn, 0.5)
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT pg_sleep(30)")
        dog.stop()
    assert dog.fired


def test_a_watch_whose_api_fails_gives_up_on_that_read_within_its_budget(pgbouncer_server: RealServers) -> None:
    """DigitalOcean answering 503 after 8 s, again and again: the watch's API read stops retrying once its budget
    (10 s) is spent, not after the 5 attempts the run's 5 minutes allow, and the frame shows the last answer,
    marked stale with the 503. Virtual time: the fake's latency advances its clock."""
    from do_pgpool import DigitalOcean, RetryConfig
    from do_pgpool.ops._status import cluster_status
    from do_pgpool.ops._watch import StatusWatch
    from tests.conftest_servers import local_cluster

    fake = FakeDigitalOcean()
    local_cluster(fake, pgbouncer_server)
    clock = fake.clock
    retry = RetryConfig(sleep=clock.sleep, clock=clock.now)
    deadline = Deadline(300, clock=clock.now)
    with httpx_client(fake) as http, DigitalOcean("t", http=http, retry=retry, deadline=deadline) as gateway, \
            deadline.scope():  # fmt: skip
        watch = StatusWatch(gateway, cluster_status(gateway, "app-db"), clock=clock.now, api_budget=10)
        fake.faults.fail_next("GET", r"/pools$", status=503, times=50)
        fake.faults.latency(8, "GET", r"/pools$")
        clock.advance(30)
        started = clock.now()
        frame = watch.next()
        took = clock.now() - started
    assert 8 <= took < 20  # one slow 503 and a retry's wait at most; without the budget: 5 x 8 s plus waits
    assert frame.stale and "503" in str(frame.api_failure) and frame.status.usage is not None
    assert deadline.remaining() > 250  # the narrowed bound was given back


def httpx_client(fake: FakeDigitalOcean) -> Any:
    import httpx

    return httpx.Client(transport=fake.http_transport())
