"""The pool probe against real servers: PostgreSQL direct (everything works), Debian 12's PgBouncer 1.18 and a
PgBouncer >= 1.21 with ``max_prepared_statements`` (protocol-level prepared statements work only there).

``probe-pool`` has one server connection (sharing is certain); ``defaultdb-pool`` has 20 (PgBouncer reuses the
most recently used server first, so sequential clients share one too): both must give the same verdicts.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from do_pgpool._pool_behaviour import Behaviour, Feature, PoolBehaviour
from do_pgpool.ops._probe import ProbeReport, meaning, probe_urls
from do_pgpool.postgres import _probe
from do_pgpool.postgres._probe import LOCK_CLASS, NAME_PREFIX, PROBE_APPLICATION, probe
from do_pgpool.testing import FakeDigitalOcean
from do_pgpool.testing._servers import RealServers, psycopg_connect
from tests.cli_runner import assert_none_shown, invoke
from tests.conftest_servers import POOL_NAME, PROBE_POOL_NAME, end_probe_server_connections, local_cluster

pytestmark = pytest.mark.postgres

TOKEN = "dop_v1_" + "d" * 8 + "probe-cli-token"
WAIT = 0.2  # the NOTIFY wait: where LISTEN works the notification arrives in milliseconds
SESSION_FEATURES = [f for f in Feature if f is not Feature.PROTOCOL_PREPARED]

run = functools.partial(invoke, token=TOKEN)


def _verdicts(behaviour: PoolBehaviour) -> dict[Feature, Behaviour]:
    return {m.feature: m.behaviour for m in behaviour.measurements}


def _leftovers(url: str) -> dict[str, Any]:
    """What of the probe's could still be on the server connection ``url`` gets (a pool of one: the only one)."""
    with psycopg_connect(url, prepare_threshold=None) as conn:
        pattern = NAME_PREFIX + "%"
        row = conn.execute(
            "SELECT pg_backend_pid(),"
            " (SELECT count(*) FROM pg_prepared_statements WHERE name LIKE %(p)s),"
            " (SELECT count(*) FROM pg_cursors WHERE name LIKE %(p)s),"
            " (SELECT count(*) FROM pg_listening_channels() AS c WHERE c LIKE %(p)s),"
            " (SELECT count(*) FROM pg_class WHERE relname LIKE %(p)s AND relpersistence = 't'),"
            " position('do_pgpool_probe' in current_setting('search_path')),"
            " (SELECT count(*) FROM pg_settings WHERE name LIKE 'do_pgpool.probe%%' AND setting <> ''),"
            " (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %(c)s AND objsubid = 2)",
            {"p": pattern, "c": LOCK_CLASS},
        ).fetchone()
    assert row is not None
    keys = ("prepared", "cursors", "listening", "temp_tables", "search_path", "settings", "locks")
    return dict(zip(keys, row[1:], strict=True))


NOTHING_LEFT = {"prepared": 0, "cursors": 0, "listening": 0, "temp_tables": 0, "search_path": 0, "settings": 0,
                "locks": 0}  # fmt: skip


def _probe_sessions(servers: RealServers) -> list[tuple[Any, ...]]:
    with psycopg_connect(servers.superuser_conninfo()) as conn:
        return conn.execute(
            "SELECT pid, state, application_name FROM pg_stat_activity WHERE backend_type = 'client backend' "
            "AND (application_name = %s OR state LIKE 'idle in transaction%%') AND pid <> pg_backend_pid()",
            (PROBE_APPLICATION,),
        ).fetchall()


# --- the verdicts ----------------------------------------------------------------------------------------


def test_direct_connection_everything_works_and_nothing_is_left(pg_server: RealServers) -> None:
    end_probe_server_connections(pg_server)  # pools keep server connections an earlier test's probe named
    behaviour = probe(pg_server.direct_url(), timeout=30, notify_wait=WAIT)
    assert _verdicts(behaviour) == dict.fromkeys(Feature, Behaviour.WORKS), behaviour
    assert [m.feature for m in behaviour.measurements] == list(Feature)
    assert _probe_sessions(pg_server) == []  # every connection closed


@pytest.mark.parametrize("pool", [PROBE_POOL_NAME, POOL_NAME])
def test_pgbouncer_118_prepared_statements_leak_and_session_state_too(pgbouncer_118: RealServers, pool: str) -> None:
    assert pgbouncer_118.pgbouncer_version()[:2] == (1, 18)
    behaviour = probe(pgbouncer_118.pool_url(pool), timeout=30, notify_wait=WAIT)
    verdicts = _verdicts(behaviour)
    # B's Execute of its own statement name ran A's statement: a wrong result, not only an error
    assert verdicts[Feature.PROTOCOL_PREPARED] is Behaviour.LEAKS, behaviour
    assert "ran client A's instead: got 'A:3'" in behaviour.measurements[0].detail
    assert not behaviour.prepared_statements_work
    for feature in SESSION_FEATURES:
        assert verdicts[feature] is Behaviour.LEAKS, (feature, behaviour)


@pytest.mark.parametrize("pool", [PROBE_POOL_NAME, POOL_NAME])
def test_pgbouncer_new_tracks_protocol_prepared_statements_only(pgbouncer_new: RealServers, pool: str) -> None:
    assert pgbouncer_new.pgbouncer_version() >= (1, 21)
    behaviour = probe(pgbouncer_new.pool_url(pool), timeout=30, notify_wait=WAIT)
    verdicts = _verdicts(behaviour)
    assert verdicts[Feature.PROTOCOL_PREPARED] is Behaviour.WORKS, behaviour
    assert behaviour.prepared_statements_work
    # SQL PREPARE is not tracked: B's EXECUTE ran A's statement on the shared server connection
    assert verdicts[Feature.SQL_PREPARE] is Behaviour.LEAKS, behaviour
    for feature in SESSION_FEATURES:
        assert verdicts[feature] is not Behaviour.WORKS, (feature, behaviour)


def test_the_two_pgbouncers_differ_on_prepared_statements_and_the_json_round_trips(
    pgbouncer_118: RealServers, pgbouncer_new: RealServers, pg_server: RealServers
) -> None:
    old = probe_urls(pgbouncer_118.pool_url(PROBE_POOL_NAME), pg_server.direct_url(), notify_wait=WAIT)
    new = probe_urls(pgbouncer_new.pool_url(PROBE_POOL_NAME), notify_wait=WAIT)
    assert old.pool.behaviour(Feature.PROTOCOL_PREPARED) is Behaviour.LEAKS
    assert new.pool.behaviour(Feature.PROTOCOL_PREPARED) is Behaviour.WORKS
    data = json.loads(json.dumps(old.as_dict()))
    assert PoolBehaviour.from_dict(data["pool"]) == old.pool
    assert old.direct is not None and PoolBehaviour.from_dict(data["direct"]) == old.direct
    assert data["meaning"][Feature.PROTOCOL_PREPARED.value].startswith("not tracked by the pool (PgBouncer < 1.21")
    assert new.as_dict()["meaning"][Feature.PROTOCOL_PREPARED.value].startswith(
        "tracked by the pool (PgBouncer >= 1.21 with max_prepared_statements"
    )
    assert new.as_dict()["direct"] is None


# --- harmless: cleaned up, isolated, bounded -------------------------------------------------------------


@pytest.mark.parametrize("bouncer", ["pgbouncer_118", "pgbouncer_new"])
def test_nothing_of_the_probe_is_left_on_the_pools_server_connection(
    bouncer: str, request: pytest.FixtureRequest, pg_server: RealServers
) -> None:
    servers: RealServers = request.getfixturevalue(bouncer)
    url = servers.pool_url(PROBE_POOL_NAME)  # one server connection: every probe transaction ran on it
    probe(url, timeout=30, notify_wait=WAIT)
    assert _leftovers(url) == NOTHING_LEFT
    assert [s for s in _probe_sessions(pg_server) if s[1] != "idle"] == []  # no transaction left open


def test_a_feature_that_fails_is_unknown_and_cleaned_up_and_the_others_are_measured(
    pgbouncer_118: RealServers, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = _probe.MEASURES[Feature.ADVISORY_LOCK]

    def lock_then_fail(a: Any, b: Any, name: str, wait: float) -> Any:
        lock(a, b, name, wait)  # the lock is taken (twice, on the shared server connection)...
        raise RuntimeError("boom")  # ...and the measurement fails before it says anything

    monkeypatch.setitem(_probe.MEASURES, Feature.ADVISORY_LOCK, lock_then_fail)
    url = pgbouncer_118.pool_url(PROBE_POOL_NAME)
    behaviour = probe(url, timeout=30, notify_wait=WAIT)
    verdicts = _verdicts(behaviour)
    assert verdicts.pop(Feature.ADVISORY_LOCK) is Behaviour.UNKNOWN
    assert behaviour.measurements[3].detail == "not measured: RuntimeError"
    assert set(verdicts.values()) == {Behaviour.LEAKS}  # every other feature measured
    assert _leftovers(url) == NOTHING_LEFT  # the lock was released all the same


def test_a_pool_with_no_free_server_connection_gives_unknown_within_the_time_limit(
    pgbouncer_118: RealServers, pg_server: RealServers
) -> None:
    url = pgbouncer_118.pool_url(PROBE_POOL_NAME)
    with psycopg_connect(url, prepare_threshold=None, autocommit=False) as holder:
        holder.execute("SELECT 1")  # holds the pool's only server connection in an open transaction
        behaviour = probe(url, timeout=0.5, notify_wait=WAIT)
    first, *rest = behaviour.measurements
    assert first.behaviour is Behaviour.UNKNOWN
    assert "no answer within the probe's time limit (0.5 s)" in first.detail
    assert all(m.behaviour is Behaviour.UNKNOWN and "ran out" in m.detail for m in rest), rest
    assert _leftovers(url) == NOTHING_LEFT


def test_a_url_that_does_not_connect_raises_without_its_password(pg_server: RealServers) -> None:
    from do_pgpool._exceptions import DatabaseError

    url = pg_server.direct_url().replace(f":{pg_server.pg_port}/", ":1/")
    with pytest.raises(DatabaseError) as caught:
        probe(url, timeout=5)
    assert caught.value.unreachable
    assert pg_server.password not in str(caught.value)


# --- what it means ---------------------------------------------------------------------------------------


def test_report_text_has_a_table_and_what_it_means() -> None:
    pool = PoolBehaviour.from_dict({
        "protocol_prepared_statements": {"behaviour": "works", "detail": "A kept it"},
        "set": {"behaviour": "leaks", "detail": "B saw it"},
        "listen_notify": {"behaviour": "unknown", "detail": "not measured: timeout"},
    })  # fmt: skip
    direct = PoolBehaviour.from_dict({
        "protocol_prepared_statements": {"behaviour": "works", "detail": ""},
        "set": {"behaviour": "works", "detail": ""},
        "listen_notify": {"behaviour": "breaks", "detail": "no NOTIFY"},
    })  # fmt: skip
    lines = ProbeReport("pool p of cluster c", pool, direct).lines()
    assert lines[0] == "probe of pool p of cluster c"
    assert lines[1].split() == ["feature", "pool", "direct", "evidence", "(through", "the", "pool)"]
    assert lines[2].split()[:4] == ["protocol_prepared_statements", "works", "works", "A"]
    assert lines[3].split()[:3] == ["set", "leaks", "works"]
    text = "\n".join(lines)
    assert "prepared statements (protocol): tracked by the pool (PgBouncer >= 1.21 with max_prepared_statements" in text
    assert "SET / search_path: use SET LOCAL" in text and "(it leaks: wrong results, not only errors)" in text
    assert "note: the direct connection did not show LISTEN/NOTIFY working (no NOTIFY)" in text
    assert meaning(Feature.LISTEN, Behaviour.UNKNOWN).startswith("not measured")


# --- the command -----------------------------------------------------------------------------------------


@pytest.fixture
def api(pgbouncer_server: RealServers) -> Iterator[str]:
    """A fake API whose cluster ``app-db`` is the local PostgreSQL with the local PgBouncer 1.18's pool of 20."""
    fake = FakeDigitalOcean()
    cluster = local_cluster(fake, pgbouncer_server)
    fake.add_pool(cluster, POOL_NAME, 20)
    with fake.serve() as url:
        yield url


def test_cli_probe_through_the_api_text_and_json(api: str, pgbouncer_server: RealServers) -> None:
    result = run(api, "probe", "--cluster", "app-db")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"probe of pool {POOL_NAME} (transaction mode, size 20) of cluster app-db\n")
    assert "protocol_prepared_statements  leaks  works" in result.stdout
    assert "not tracked by the pool (PgBouncer < 1.21" in result.stdout
    assert_none_shown(result, TOKEN, pgbouncer_server.password)

    result = run(api, "probe", "--pool", POOL_NAME, "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    pool = PoolBehaviour.from_dict(data["pool"])
    assert pool.behaviour(Feature.PROTOCOL_PREPARED) is Behaviour.LEAKS
    assert set(_verdicts(PoolBehaviour.from_dict(data["direct"])).values()) == {Behaviour.WORKS}
    assert_none_shown(result, TOKEN, pgbouncer_server.password)


def test_cli_probe_without_direct(api: str) -> None:
    result = run(api, "probe", "--no-direct", "-o", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["direct"] is None


def test_cli_probe_of_a_given_url_needs_no_token(pgbouncer_new: RealServers, pg_server: RealServers) -> None:
    from click.testing import CliRunner

    from do_pgpool.cli import main

    env = {"DO_PGPOOL_PROBE_URL": pgbouncer_new.pool_url(PROBE_POOL_NAME),
           "DO_PGPOOL_PROBE_DIRECT_URL": pg_server.direct_url()}  # fmt: skip
    result = CliRunner().invoke(main, ["probe", "-o", "json"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["pool"]["protocol_prepared_statements"]["behaviour"] == "works"
    assert data["target"].startswith("postgresql://doadmin:***@127.0.0.1")
    assert_none_shown(result, pg_server.password)

    wrong = CliRunner().invoke(main, ["probe", "--cluster", "x"], env=env, catch_exceptions=False)
    assert wrong.exit_code == 2 and "--url probes that connection string" in wrong.output


def test_cli_probe_of_an_unreachable_url_exits_1_without_the_password(pg_server: RealServers) -> None:
    from click.testing import CliRunner

    from do_pgpool.cli import main

    url = pg_server.direct_url().replace(f":{pg_server.pg_port}/", ":1/")
    result = CliRunner().invoke(main, ["probe", "--url", url, "--timeout", "10s"], catch_exceptions=False)
    assert result.exit_code == 1
    assert "cannot reach PostgreSQL" in result.output
    assert_none_shown(result, pg_server.password)


def test_leftover_check_sees_state_when_it_is_there(pgbouncer_118: RealServers) -> None:
    """The cleanup assertions above can fail: state made the probe's way shows up in ``_leftovers``."""
    url = pgbouncer_118.pool_url(PROBE_POOL_NAME)
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        name = NAME_PREFIX + "feedbeef"
        conn.execute(f"PREPARE {name} AS SELECT 1")
        conn.execute("SELECT pg_advisory_lock(%s, 1)", (LOCK_CLASS,))
        try:
            left = _leftovers(url)
            assert left["prepared"] == 1 and left["locks"] == 1
        finally:
            conn.execute(f"DEALLOCATE {name}")
            conn.execute("SELECT pg_advisory_unlock(%s, 1)", (LOCK_CLASS,))


def test_cli_probe_of_an_inbound_user_pool_logs_in_with_the_clusters_credentials(
    pgbouncer_server: RealServers,
) -> None:
    fake = FakeDigitalOcean()
    cluster = local_cluster(fake, pgbouncer_server)
    fake.add_pool(cluster, PROBE_POOL_NAME, 1, user=None)  # DigitalOcean gives it "user": "", "password": ""
    fake.add_pool(cluster, POOL_NAME, 20)
    with fake.serve() as url:
        which = run(url, "probe")
        assert which.exit_code == 2 and "this cluster has 2 pools (" in which.output
        assert "say which with --pool NAME" in which.output
        result = run(url, "probe", "--pool", PROBE_POOL_NAME, "--no-direct", "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["target"] == f"pool {PROBE_POOL_NAME} (transaction mode, size 1) of cluster app-db"
    assert data["pool"]["protocol_prepared_statements"]["behaviour"] == "leaks"
    assert_none_shown(result, TOKEN, pgbouncer_server.password)


def test_works_needs_b_on_a_s_server_connection_when_the_pool_shares_them() -> None:
    """A luckily kept its server connection and B ran on another: no proof, in a pool seen sharing them."""
    setup, b_elsewhere, b_there = _probe._Step("A", 10), _probe._Step("B", 11), _probe._Step("B", 10)
    lucky = _probe._judge(setup, True, False, "A kept it; B did not see it", b_elsewhere)
    assert lucky.behaviour is Behaviour.WORKS and lucky.shared is False
    assert _probe._unshared(lucky, shares=False) == lucky  # never shared: a direct connection, a session pool
    judged = _probe._unshared(lucky, shares=True)
    assert judged.behaviour is Behaviour.UNKNOWN and judged.detail.startswith("inconclusive: client B ran on another")
    proven = _probe._judge(setup, True, False, "tracked by the pool", b_there)
    assert _probe._unshared(proven, shares=True) == proven
    assert _probe._judge(setup, False, True, "B saw it", b_there).behaviour is Behaviour.LEAKS
    assert _probe._judge(setup, False, False, "gone", b_elsewhere).behaviour is Behaviour.BREAKS


def test_a_feature_that_hangs_after_setting_state_is_unknown_and_cleaned_up_over_a_fresh_connection(
    pgbouncer_118: RealServers, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = _probe.MEASURES[Feature.ADVISORY_LOCK]

    def lock_then_hang(a: Any, b: Any, name: str, wait: float) -> Any:
        lock(a, b, name, wait)
        b.conn.execute("BEGIN")
        b.conn.execute("SELECT 1")  # B holds the pool's only server connection...
        return lock(a, b, name, wait)  # ...so A's next transaction waits in PgBouncer's queue until the watchdog

    monkeypatch.setitem(_probe.MEASURES, Feature.ADVISORY_LOCK, lock_then_hang)
    url = pgbouncer_118.pool_url(PROBE_POOL_NAME)
    behaviour = probe(url, timeout=1.0, notify_wait=WAIT, features=[Feature.ADVISORY_LOCK])
    (only,) = behaviour.measurements
    assert only.behaviour is Behaviour.UNKNOWN
    assert only.detail.startswith("no answer within the probe's time limit (1 s)"), only.detail
    assert _leftovers(url) == NOTHING_LEFT
