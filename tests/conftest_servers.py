"""Session-scoped real PostgreSQL + PgBouncer fixtures: ``do_pgpool.testing._servers``, the code that
``do-pgpool sandbox`` and the benchmarks start their servers with.

A missing server is a failure, never a skip, with how to get one: the real-server tests must never vanish
(``make test`` as root installs PostgreSQL and PgBouncer and builds the second PgBouncer).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from do_pgpool.testing import FakeDigitalOcean
from do_pgpool.testing._backend import FakeCluster
from do_pgpool.testing._servers import PoolAlias, RealServers, ServersUnavailable, find_new_pgbouncer

#: The pool every real-server test can use, named like a DigitalOcean pool (``<db>-pool``), size 20.
POOL_NAME = "defaultdb-pool"
#: A pool of one server connection: makes connection sharing between clients deterministic.
PROBE_POOL_NAME = "probe-pool"
#: ``max_prepared_statements`` of the PgBouncer >= 1.21 (``pgbouncer_new``): its per-client prepared statements on
NEW_MAX_PREPARED_STATEMENTS = 100



def _bouncer_pools() -> dict[str, PoolAlias]:
    """Every test PgBouncer's pools: ``defaultdb-pool`` of 20, ``probe-pool`` of 1."""
    return {POOL_NAME: PoolAlias(size=20), PROBE_POOL_NAME: PoolAlias(size=1)}


def _unavailable(reason: str) -> None:
    """Fail the test that needs a real server, saying what is missing and how to get it."""
    pytest.fail(f"real servers unavailable: {reason}. Run `make test` as root (it installs Debian's postgresql "
                "and pgbouncer and builds a PgBouncer >= 1.21: `sudo make servers` does only that), or set "
                "PG_BINDIR to PostgreSQL's bin folder.", pytrace=False)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[RealServers]:
    """PostgreSQL only: 127.0.0.1, max_connections=25, 3 reserved, SSL, non-superuser ``doadmin``."""
    try:
        servers = RealServers.start_postgres()
    except ServersUnavailable as exc:
        _unavailable(str(exc))
        raise  # unreachable: _unavailable fails the test
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture(scope="session")
def pgbouncer_server(pg_server: RealServers) -> RealServers:
    """``pg_server`` plus PgBouncer in transaction mode (pools ``defaultdb-pool`` of 20, ``probe-pool`` of 1).

    Stopped together with ``pg_server`` at the end of the session.
    """
    if pg_server.bouncer_port is None:
        try:
            pg_server.start_pgbouncer(_bouncer_pools())
        except ServersUnavailable as exc:
            _unavailable(str(exc))
    return pg_server


def _another_bouncer(pg_server: RealServers, binary: Path | None, max_prepared: int | None) -> RealServers:
    if binary is None:
        _unavailable(str(ServersUnavailable("pgbouncer not found")))
    try:
        return pg_server.start_another_pgbouncer(binary, _bouncer_pools(), max_prepared_statements=max_prepared)
    except ServersUnavailable as exc:
        _unavailable(str(exc))
        raise  # unreachable: _unavailable fails the test


@pytest.fixture(scope="session")
def pgbouncer_118(pg_server: RealServers) -> Iterator[RealServers]:
    """Debian 12's PgBouncer (1.18: prepared statements do not survive transaction pooling) in front of
    ``pg_server``, on its own port, with ``pgbouncer_server``'s pools (``defaultdb-pool`` 20, ``probe-pool`` 1).

    Its own process, so tests may change its pools without touching ``pgbouncer_server``. The version is
    ``pgbouncer_118.pgbouncer_version()``.
    """
    bouncer = _another_bouncer(pg_server, pg_server.binaries.pgbouncer, None)
    try:
        yield bouncer
    finally:
        bouncer.stop()


@pytest.fixture(scope="session")
def pgbouncer_new(pg_server: RealServers) -> Iterator[RealServers]:
    """A PgBouncer >= 1.21 with ``max_prepared_statements = 100`` (prepared statements work in transaction
    mode), otherwise like ``pgbouncer_118``. Built by scripts/build-pgbouncer.sh (``make servers``) or named
    by ``$PGBOUNCER_NEW``; missing as root or in CI is a failure saying how to build it."""
    try:
        binary = find_new_pgbouncer()
    except ServersUnavailable as exc:
        _unavailable(str(exc))
        raise  # unreachable: _unavailable fails the test
    bouncer = _another_bouncer(pg_server, binary, NEW_MAX_PREPARED_STATEMENTS)
    try:
        yield bouncer
    finally:
        bouncer.stop()


def kick_client_backends(servers: RealServers, *, keep_users: tuple[str, ...] = ()) -> int:
    """Terminate every client backend (PgBouncer's server connections included) except the caller's own.

    Returns how many were terminated. Waits (bounded, PostgreSQL 14+) until each one is gone.
    """
    from do_pgpool.testing._servers import psycopg_connect

    wait = ", 5000" if servers.server_version_num >= 140000 else ""
    with psycopg_connect(servers.superuser_conninfo()) as conn:
        rows = conn.execute(
            f"SELECT pg_terminate_backend(pid{wait}) FROM pg_stat_activity "
            "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND NOT usename = ANY(%s)",
            (list(keep_users),),
        ).fetchall()
    return len(rows)


def end_probe_server_connections(servers: RealServers) -> int:
    """End the server connections named ``do-pgpool-probe`` that pools keep after a probe (tests counting the
    probe's sessions start from none). Returns how many."""
    from do_pgpool.postgres._probe import PROBE_APPLICATION
    from do_pgpool.testing._servers import psycopg_connect

    wait = ", 5000" if servers.server_version_num >= 140000 else ""
    with psycopg_connect(servers.superuser_conninfo()) as conn:
        return len(conn.execute(f"SELECT pg_terminate_backend(pid{wait}) FROM pg_stat_activity "
                                "WHERE application_name = %s AND pid <> pg_backend_pid()",
                                (PROBE_APPLICATION,)).fetchall())  # fmt: skip


@pytest.fixture
def empty_pg(pg_server: RealServers) -> RealServers:
    """``pg_server`` with no client backend left over from earlier tests (so counts are exact)."""
    kick_client_backends(pg_server)
    return pg_server


def local_cluster(fake: FakeDigitalOcean, servers: RealServers, name: str = "app-db") -> FakeCluster:
    """Add to ``fake`` a 1 GiB cluster (budget 22) that *is* the local PostgreSQL: its connection, its pools'
    port (the local PgBouncer), the password, and ``/ca`` serving the CA that issued the servers' certificate."""
    cluster = fake.add_cluster(name, size="db-s-1vcpu-1gb", host=servers.host, port=servers.pg_port,
                               pool_port=servers.bouncer_port, password=servers.password, version="15")  # fmt: skip
    cluster.ca_pem = servers.ca_pem
    return cluster
