"""The advice for apps behind a transaction pool, proven against a real PgBouncer in transaction mode.

``probe-pool`` has ONE server connection, so two clients always share it: what breaks (or leaks) does so
deterministically.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from typing import Any

import psycopg
import pytest

from do_pgpool._advice import (
    ASYNCPG_CONNECT_KWARGS,
    CAVEATS,
    DJANGO_DATABASE_SETTINGS,
    PSYCOPG_CONNECT_KWARGS,
    SQLALCHEMY_ENGINE_KWARGS,
    advice,
    advice_dict,
    render_text,
)
from do_pgpool.testing._servers import RealServers, psycopg_connect
from tests.conftest_servers import PROBE_POOL_NAME

# --- the text ----------------------------------------------------------------------------------------------


def test_django_advice_is_exactly_these_settings() -> None:
    text = render_text(only="django")
    django_lines = [line.strip() for line in text.splitlines() if line.startswith("    ")]
    assert django_lines == [
        "# settings.py: DATABASES['default'] = the pool's URL from DATABASE_URL (e.g. dj-database-url), plus:",
        "'CONN_MAX_AGE': 0,",
        "'DISABLE_SERVER_SIDE_CURSORS': True,",
        "'OPTIONS': {'prepare_threshold': None},",
        "# and no 'server_side_binding': True in OPTIONS (Django's default, off, is what the pool needs)",
        "# run migrations over the direct connection: DATABASE_URL=$DIRECT_DATABASE_URL python manage.py migrate",
    ]
    assert DJANGO_DATABASE_SETTINGS == {
        "CONN_MAX_AGE": 0,
        "DISABLE_SERVER_SIDE_CURSORS": True,
        "OPTIONS": {"prepare_threshold": None},
    }


def test_every_driver_turns_prepared_statements_off() -> None:
    text = render_text()
    assert "psycopg.connect(os.environ['DATABASE_URL'], prepare_threshold=None)" in text
    assert "connect_args={'prepare_threshold': None}" in text
    assert "statement_cache_size=0" in text
    assert "pgbouncer=true" in text
    assert PSYCOPG_CONNECT_KWARGS == {"prepare_threshold": None}
    assert SQLALCHEMY_ENGINE_KWARGS == {"connect_args": {"prepare_threshold": None}}
    assert ASYNCPG_CONNECT_KWARGS == {"statement_cache_size": 0}


def test_session_state_caveats_name_the_replacement() -> None:
    text = render_text()
    assert "SET LOCAL" in text
    assert "pg_advisory_xact_lock()" in text
    assert "LISTEN / NOTIFY: use the direct connection" in text
    assert "temporary tables" in text


def test_env_names_are_parameters_and_json_carries_the_same_advice() -> None:
    text = render_text(pool_env="POOL_URL", direct_env="MIGRATE_URL", only="django")
    assert "POOL_URL=$MIGRATE_URL python manage.py migrate" in text
    data = advice_dict(pool_env="POOL_URL", direct_env="MIGRATE_URL")
    json.dumps(data)
    assert [f["key"] for f in data["frameworks"]] == [a.key for a in advice()]
    assert data["frameworks"][0]["lines"] == list(advice(pool_env="POOL_URL", direct_env="MIGRATE_URL")[0].lines)
    assert len(data["caveats"]) == len(CAVEATS)


def test_unknown_stack_is_refused_with_the_known_ones() -> None:
    from do_pgpool._exceptions import ConfigError

    with pytest.raises(ConfigError, match="known: django, psycopg, psycopg2, sqlalchemy, sqlalchemy-asyncpg, asyncpg"):
        render_text(only="mongodb")


# --- proven against PgBouncer (transaction mode) ------------------------------------------------------------

QUERY = "SELECT %s::int + 1"


def _alternate(a: psycopg.Connection[Any], b: psycopg.Connection[Any], rounds: int) -> list[int]:
    """A and B take turns running the same parametrized query (psycopg prepares it on the 6th run by default)."""
    results: list[int] = []
    for i in range(rounds):
        for conn, base in ((a, 1000), (b, 2000)):
            row = conn.execute(QUERY, (base + i,)).fetchone()
            assert row is not None
            results.append(int(row[0]))
    return results


@pytest.mark.postgres
def test_psycopg_default_prepare_threshold_breaks_behind_the_transaction_pool(
    pgbouncer_server: RealServers,
) -> None:
    url = pgbouncer_server.pool_url(PROBE_POOL_NAME)
    with ExitStack() as stack:
        a = stack.enter_context(psycopg_connect(url))  # psycopg's default: prepare_threshold=5
        b = stack.enter_context(psycopg_connect(url))
        assert a.prepare_threshold == 5
        with pytest.raises(psycopg.errors.DuplicatePreparedStatement, match='prepared statement "_pg3_0" already'):
            _alternate(a, b, rounds=10)


@pytest.mark.postgres
@pytest.mark.parametrize(
    "kwargs",
    [PSYCOPG_CONNECT_KWARGS, DJANGO_DATABASE_SETTINGS["OPTIONS"], SQLALCHEMY_ENGINE_KWARGS["connect_args"]],
    ids=["psycopg", "django-OPTIONS", "sqlalchemy-connect_args"],
)
def test_the_advised_connect_options_work_behind_the_transaction_pool(
    pgbouncer_server: RealServers, kwargs: dict[str, Any]
) -> None:
    url = pgbouncer_server.pool_url(PROBE_POOL_NAME)
    with ExitStack() as stack:
        a = stack.enter_context(psycopg_connect(url, **kwargs))
        b = stack.enter_context(psycopg_connect(url, **kwargs))
        results = _alternate(a, b, rounds=20)
    assert results == [v for i in range(20) for v in (1000 + i + 1, 2000 + i + 1)]


@pytest.mark.postgres
def test_plain_set_leaks_to_another_client_and_set_local_does_not(pgbouncer_server: RealServers) -> None:
    url = pgbouncer_server.pool_url(PROBE_POOL_NAME)
    with ExitStack() as stack:
        a = stack.enter_context(psycopg_connect(url, prepare_threshold=None))
        b = stack.enter_context(psycopg_connect(url, prepare_threshold=None))
        default = b.execute("SHOW statement_timeout").fetchone()
        try:
            a.execute("SET statement_timeout = '4321ms'")
            assert b.execute("SHOW statement_timeout").fetchone() == ("4321ms",)  # leaked
        finally:
            a.execute("RESET statement_timeout")
        with a.transaction():
            a.execute("SET LOCAL statement_timeout = '1234ms'")
            assert a.execute("SHOW statement_timeout").fetchone() == ("1234ms",)
        assert b.execute("SHOW statement_timeout").fetchone() == default


@pytest.mark.postgres
def test_session_advisory_lock_is_shared_and_the_xact_lock_is_not(pgbouncer_server: RealServers) -> None:
    url = pgbouncer_server.pool_url(PROBE_POOL_NAME)
    with ExitStack() as stack:
        a = stack.enter_context(psycopg_connect(url, prepare_threshold=None))
        b = stack.enter_context(psycopg_connect(url, prepare_threshold=None))
        try:
            assert a.execute("SELECT pg_try_advisory_lock(42)").fetchone() == (True,)
            # B "gets" the lock A holds: it is the same server session
            assert b.execute("SELECT pg_try_advisory_lock(42)").fetchone() == (True,)
        finally:
            a.execute("SELECT pg_advisory_unlock_all()")
        with a.transaction():
            a.execute("SELECT pg_advisory_xact_lock(42)")
        # released at commit: nothing is left on the shared server connection
        row = b.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone()
        assert row == (0,)
