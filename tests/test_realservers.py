"""The real-server fixtures never vanish silently in CI: missing binaries skip locally, fail in CI."""

from __future__ import annotations

import pytest

from do_pgpool.testing import _servers as realservers
from tests import conftest_servers


def test_missing_servers_fail_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="real servers required in CI but unavailable: no pg"):
        conftest_servers._unavailable("no pg")


def test_missing_servers_skip_with_the_reason_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="real servers unavailable: no pg"):
        conftest_servers._unavailable("no pg")


def test_no_postgresql_install_is_reported_with_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PG_BINDIR", raising=False)
    monkeypatch.setattr(realservers.glob, "glob", lambda pattern: [])
    with pytest.raises(realservers.ServersUnavailable, match="install Debian's `postgresql` package"):
        realservers.find_binaries()


@pytest.mark.postgres
def test_servers_have_the_shape_of_a_1gb_digitalocean_cluster(pgbouncer_server: realservers.RealServers) -> None:
    with realservers.psycopg_connect(pgbouncer_server.superuser_conninfo()) as conn:
        settings = dict(conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('max_connections', 'superuser_reserved_connections', 'ssl', 'listen_addresses')"
        ).fetchall())  # fmt: skip
        doadmin = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = 'doadmin'").fetchone()
    assert settings == {"max_connections": "25", "superuser_reserved_connections": "3", "ssl": "on",
                        "listen_addresses": "127.0.0.1"}  # fmt: skip
    assert doadmin == (False,)  # as on DigitalOcean
    for url in (pgbouncer_server.direct_url(), pgbouncer_server.pool_url()):
        with realservers.psycopg_connect(url, prepare_threshold=None) as conn:
            assert conn.pgconn.ssl_in_use  # sslmode=require works direct and through the pool
