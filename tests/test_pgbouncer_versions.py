"""The two real PgBouncers the pool probe is tested against really differ: Debian 12's 1.18 loses protocol-level
prepared statements in transaction mode, a PgBouncer >= 1.21 with ``max_prepared_statements`` keeps them.

psycopg 3 with ``prepare_threshold=0`` prepares every statement (names ``_pg3_0``, ``_pg3_1``, ... per
connection: two clients use the same names). Through a pool of ONE server connection, the second client's
``_pg3_0`` meets the first client's on the server: "already exists" on 1.18, rewritten by PgBouncer >= 1.21.
"""

from __future__ import annotations

import psycopg

from do_pgpool.testing._servers import RealServers
from tests.conftest_servers import NEW_MAX_PREPARED_STATEMENTS, PROBE_POOL_NAME

CLIENTS = 2
ROUNDS = 5


def _prepared_statement_errors(url: str) -> list[str]:
    """Every client runs the same two prepared statements in each of ``ROUNDS`` transactions, taking turns."""
    conns = [psycopg.connect(url, prepare_threshold=0, connect_timeout=10) for _ in range(CLIENTS)]
    errors: list[str] = []
    try:
        for round_ in range(ROUNDS):
            for conn in conns:
                try:
                    with conn.transaction():
                        row = conn.execute("SELECT %s::int + 1", (round_,)).fetchone()
                        assert row == (round_ + 1,)
                        row = conn.execute("SELECT count(*) FROM pg_class WHERE relpages >= %s", (0,)).fetchone()
                        assert row is not None and row[0] > 0
                except psycopg.Error as exc:
                    errors.append(str(exc).splitlines()[0])
    finally:
        for conn in conns:
            conn.close()
    return errors


def test_debian_pgbouncer_is_118_and_loses_prepared_statements(pgbouncer_118: RealServers) -> None:
    version = pgbouncer_118.pgbouncer_version()
    assert (1, 18) <= version < (1, 21), version
    errors = _prepared_statement_errors(pgbouncer_118.pool_url(PROBE_POOL_NAME))
    assert errors, "PgBouncer 1.18 in transaction mode should break prepared statements shared by two clients"
    assert all('prepared statement "_pg3_' in e for e in errors), errors


def test_new_pgbouncer_keeps_prepared_statements(pgbouncer_new: RealServers) -> None:
    assert pgbouncer_new.pgbouncer_version() >= (1, 21)
    with psycopg.connect(pgbouncer_new.admin_conninfo(), autocommit=True, cursor_factory=psycopg.ClientCursor) as c:
        settings = {row[0]: row[1] for row in c.execute("SHOW CONFIG").fetchall()}
    assert settings["max_prepared_statements"] == str(NEW_MAX_PREPARED_STATEMENTS)
    assert _prepared_statement_errors(pgbouncer_new.pool_url(PROBE_POOL_NAME)) == []


def test_both_bouncers_serve_the_same_postgres(pgbouncer_118: RealServers, pgbouncer_new: RealServers) -> None:
    ports = set()
    for bouncer in (pgbouncer_118, pgbouncer_new):
        with psycopg.connect(bouncer.pool_url(PROBE_POOL_NAME), connect_timeout=10) as conn:
            row = conn.execute("SELECT inet_server_port()").fetchone()
        assert row is not None
        ports.add(row[0])
    assert ports == {pgbouncer_118.pg_port}
    assert pgbouncer_118.bouncer_port != pgbouncer_new.bouncer_port
