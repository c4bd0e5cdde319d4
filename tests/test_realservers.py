"""The real-server fixtures never vanish: missing binaries are a failure that says how to get them, never a skip."""

from __future__ import annotations

import os

import pytest

from do_pgpool.testing import _servers as realservers
from tests import conftest_servers


@pytest.mark.parametrize(("ci", "euid"), [("true", 1000), (None, 0), (None, 1000)])
def test_missing_servers_fail_saying_how_to_get_them_in_ci_as_root_and_as_a_user(
    monkeypatch: pytest.MonkeyPatch, ci: str | None, euid: int
) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    monkeypatch.setattr(os, "geteuid", lambda: euid)
    with pytest.raises(pytest.fail.Exception, match=r"real servers unavailable: no pg\. Run `make test` as root"):
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
