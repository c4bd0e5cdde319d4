"""The real-server fixtures never vanish silently in CI: missing binaries skip locally, fail in CI."""

from __future__ import annotations

import pytest

from do_pgpool.testing import _servers as realservers
from tests import conftest_servers


def test_missing_servers_fail_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(conftest_servers.os, "geteuid", lambda: 1000)
    with pytest.raises(pytest.fail.Exception, match="real servers required in CI but unavailable: no pg"):
        conftest_servers._unavailable("no pg")


def test_missing_servers_fail_as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(conftest_servers.os, "geteuid", lambda: 0)
    with pytest.raises(pytest.fail.Exception, match=r"real servers required as root \(`make servers`"):
        conftest_servers._unavailable("no pg")


def test_missing_servers_skip_with_the_reason_as_a_user_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(conftest_servers.os, "geteuid", lambda: 1000)
    with pytest.raises(pytest.skip.Exception, match="real servers unavailable: no pg"):
        conftest_servers._unavailable("no pg")


def test_skipped_real_server_tests_are_announced_loudly(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("pytest_plugins = ['tests.conftest_servers']")
    pytester.makepyfile(test_x="""
        import pytest
        from tests import conftest_servers
        def test_a(monkeypatch):
            monkeypatch.delenv("CI", raising=False)
            monkeypatch.setattr(conftest_servers.os, "geteuid", lambda: 1000)
            conftest_servers._unavailable("no initdb")
        def test_b():
            pytest.skip("something else")
    """)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*REAL-SERVER TESTS SKIPPED*",
                                 "1 test(s) needing a real PostgreSQL/PgBouncer did NOT run: *no initdb*"])


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
