"""Session-scoped real PostgreSQL + PgBouncer fixtures: ``do_pgpool.testing._servers``, the code that
``do-pgpool sandbox`` and the benchmarks start their servers with.

A missing server is a failure as root or in CI (``CI=true``): there ``make servers`` can install them,
so the real-server tests must never vanish. Only a non-root machine without the binaries skips them, and
then the end of the pytest run says loudly how many were skipped and why (``pytest_terminal_summary``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from do_pgpool.testing import FakeDigitalOcean
from do_pgpool.testing._backend import FakeCluster
from do_pgpool.testing._servers import PoolAlias, RealServers, ServersUnavailable

#: The pool every real-server test can use, named like a DigitalOcean pool (``<db>-pool``), size 20.
POOL_NAME = "defaultdb-pool"
#: A pool of one server connection: makes connection sharing between clients deterministic.
PROBE_POOL_NAME = "probe-pool"


SKIP_PREFIX = "real servers unavailable"


def _servers_required() -> tuple[bool, str]:
    """Whether a missing server is a failure here, and why."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        return True, "in CI"
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return True, "as root (`make servers` installs them)"
    return False, ""


def _unavailable(reason: str) -> None:
    required, where = _servers_required()
    if required:
        pytest.fail(f"real servers required {where} but unavailable: {reason}", pytrace=False)
    pytest.skip(f"{SKIP_PREFIX}: {reason}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say loudly, last, that real-server tests were skipped: a quiet 's' is easy to miss."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if SKIP_PREFIX in str(r.longrepr)]
    if skipped:
        reasons = sorted({str(r.longrepr[2]) if isinstance(r.longrepr, tuple) else str(r.longrepr) for r in skipped})
        terminalreporter.section("REAL-SERVER TESTS SKIPPED", sep="!", red=True, bold=True)
        terminalreporter.line(
            f"{len(skipped)} test(s) needing a real PostgreSQL/PgBouncer did NOT run: {'; '.join(reasons)}. "
            "Run `make test` as root (it installs postgresql and pgbouncer) or set PG_BINDIR.",
            red=True, bold=True,
        )


@pytest.fixture(scope="session")
def pg_server() -> Iterator[RealServers]:
    """PostgreSQL only: 127.0.0.1, max_connections=25, 3 reserved, SSL, non-superuser ``doadmin``."""
    try:
        servers = RealServers.start_postgres()
    except ServersUnavailable as exc:
        _unavailable(str(exc))
        raise  # unreachable: skip/fail raise
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
            pg_server.start_pgbouncer({POOL_NAME: PoolAlias(size=20), PROBE_POOL_NAME: PoolAlias(size=1)})
        except ServersUnavailable as exc:
            _unavailable(str(exc))
    return pg_server


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
