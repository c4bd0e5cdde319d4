"""What an application needs to stay healthy behind a transaction-mode pool: the advice, in one place.

Data first (the settings are Python values the tests feed to the real driver through a real PgBouncer),
then two renderers: :func:`render_text` for people and :func:`advice_dict` for ``-o json``.

Why (measured on PostgreSQL 15 + PgBouncer 1.18, transaction mode): clients share server connections
between transactions, so anything that lives in the server *session* leaks or breaks. psycopg 3 prepares a
query after 5 executions as ``_pg3_0``, ``_pg3_1``, ... numbered per client connection; through the pool
that gives ``prepared statement "_pg3_0" already exists``, ``... does not exist`` and even another client's
statement run with your parameters (wrong results). ``SET``, advisory locks, ``LISTEN``, temporary tables
and ``WITH HOLD`` cursors leak between clients in the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "ASYNCPG_CONNECT_KWARGS",
    "Advice",
    "CAVEATS",
    "Caveat",
    "DJANGO_DATABASE_SETTINGS",
    "PSYCOPG_CONNECT_KWARGS",
    "SQLALCHEMY_ENGINE_KWARGS",
    "advice",
    "advice_dict",
    "render_text",
]

#: psycopg 3: never prepare (the default prepares after 5 executions and breaks behind the pool).
PSYCOPG_CONNECT_KWARGS: dict[str, Any] = {"prepare_threshold": None}
#: Django: settings.DATABASES["default"] entries besides the URL.
DJANGO_DATABASE_SETTINGS: dict[str, Any] = {
    "CONN_MAX_AGE": 0,
    "DISABLE_SERVER_SIDE_CURSORS": True,
    "OPTIONS": dict(PSYCOPG_CONNECT_KWARGS),
}
#: SQLAlchemy with psycopg 3: create_engine(url, connect_args=...).
SQLALCHEMY_ENGINE_KWARGS: dict[str, Any] = {"connect_args": dict(PSYCOPG_CONNECT_KWARGS)}
#: asyncpg: no statement cache (it prepares every query).
ASYNCPG_CONNECT_KWARGS: dict[str, Any] = {"statement_cache_size": 0}
# Settings as data, per stack, for the real-driver tests to feed to the drivers (the names are a contract with
# tests/; values follow the sources in docs/app-settings.md).
#: SQLAlchemy with asyncpg: create_async_engine(url, poolclass=NullPool, connect_args=...), plus in code (a
#: function is not data) prepared_statement_name_func=lambda: f"__asyncpg_{uuid4()}__".
SQLALCHEMY_ASYNCPG_CONNECT_ARGS: dict[str, Any] = {"statement_cache_size": 0, "prepared_statement_cache_size": 0}
#: postgres.js (and Drizzle on it): postgres(url, {prepare: false}).
POSTGRES_JS_OPTIONS: dict[str, Any] = {"prepare": False}
#: Prisma <= 6 on a pool whose protocol-level prepared statements break: added to the pool URL's query.
PRISMA_POOL_URL_PARAMS: dict[str, str] = {"pgbouncer": "true"}
#: Go pgx v5 / v4: connection-string parameters.
PGX5_URL_PARAMS: dict[str, str] = {"default_query_exec_mode": "exec"}
PGX4_URL_PARAMS: dict[str, str] = {"statement_cache_mode": "describe"}
#: Java JDBC (pgjdbc): URL parameter.
JDBC_URL_PARAMS: dict[str, str] = {"prepareThreshold": "0"}
#: Rails / ActiveRecord: database.yml entries (or URL parameters of the same names).
RAILS_DATABASE_SETTINGS: dict[str, Any] = {"prepared_statements": False, "advisory_locks": False}


@dataclass(frozen=True)
class Advice:
    """One stack's settings: ``lines`` are what to write, exactly; ``why`` is one sentence."""

    key: str
    title: str
    lines: tuple[str, ...]
    why: str

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "lines": list(self.lines), "why": self.why}


@dataclass(frozen=True)
class Caveat:
    """Session state that does not survive a transaction pool, and what to use instead."""

    feature: str
    instead: str

    def as_dict(self) -> dict[str, str]:
        return {"feature": self.feature, "instead": self.instead}


def advice(*, pool_env: str = "DATABASE_URL", direct_env: str = "DIRECT_DATABASE_URL") -> tuple[Advice, ...]:
    """Every stack's advice. ``pool_env`` holds the pool's connection string, ``direct_env`` the cluster's."""
    return (
        Advice(
            "django",
            "Django (psycopg 3)",
            (
                f"# settings.py: DATABASES['default'] = the pool's URL from {pool_env} (e.g. dj-database-url), plus:",
                *(f"{name!r}: {value!r}," for name, value in DJANGO_DATABASE_SETTINGS.items()),
                f"# run migrations over the direct connection: {pool_env}=${direct_env} python manage.py migrate",
            ),
            "persistent connections belong to the pool, not the server; server-side cursors and prepared "
            "statements do not survive a transaction pool; migrations take session locks.",
        ),
        Advice(
            "psycopg",
            "psycopg 3",
            (f"psycopg.connect(os.environ[{pool_env!r}], prepare_threshold=None)",),
            "the default prepare_threshold=5 prepares _pg3_N statements that collide between clients "
            "sharing a server connection (errors and wrong results).",
        ),
        Advice(
            "sqlalchemy",
            "SQLAlchemy (psycopg 3)",
            (
                f"create_engine(os.environ[{pool_env!r}].replace('postgresql://', 'postgresql+psycopg://', 1), "
                f"connect_args={SQLALCHEMY_ENGINE_KWARGS['connect_args']!r})",
            ),
            "same as psycopg 3: no prepared statements through the pool.",
        ),
        Advice(
            "asyncpg",
            "asyncpg",
            (f"await asyncpg.connect(os.environ[{pool_env!r}], statement_cache_size=0)",),
            "asyncpg prepares and caches every statement; the cache must be off behind a transaction pool.",
        ),
        Advice(
            "prisma",
            "Prisma",
            (
                f"{pool_env}=<the pool's connection string, with pgbouncer=true added to its query>",
                f"directUrl = env({direct_env!r})  # schema.prisma datasource, for migrations",
            ),
            "pgbouncer=true turns off Prisma's prepared statements; migrations need the direct connection.",
        ),
    )


CAVEATS: tuple[Caveat, ...] = (
    Caveat("SET name = value", "SET LOCAL inside the transaction (a plain SET leaks to other clients)"),
    Caveat("pg_advisory_lock()", "pg_advisory_xact_lock() (session locks are held by a shared server connection)"),
    Caveat("LISTEN / NOTIFY", "the direct connection (a listener needs its own session)"),
    Caveat("temporary tables, WITH HOLD cursors", "the direct connection, or keep them inside one transaction"),
    Caveat("migrations, pg_dump, psql sessions", "the direct connection string"),
)


def advice_dict(*, pool_env: str = "DATABASE_URL", direct_env: str = "DIRECT_DATABASE_URL") -> dict[str, Any]:
    """The advice for ``-o json``."""
    return {
        "pool_env": pool_env,
        "direct_env": direct_env,
        "frameworks": [a.as_dict() for a in advice(pool_env=pool_env, direct_env=direct_env)],
        "caveats": [c.as_dict() for c in CAVEATS],
    }


def render_text(
    *, pool_env: str = "DATABASE_URL", direct_env: str = "DIRECT_DATABASE_URL", only: str | None = None
) -> str:
    """Human-readable advice; ``only`` limits it to one stack (``django``, ``psycopg``, ...)."""
    items = [a for a in advice(pool_env=pool_env, direct_env=direct_env) if only is None or a.key == only]
    if not items:
        keys = ", ".join(a.key for a in advice())
        raise ValueError(f"no advice for {only!r}; known: {keys}")
    out = [f"Behind a transaction pool ({pool_env} = the pool, {direct_env} = the cluster's direct connection):"]
    for item in items:
        out.append("")
        out.append(f"{item.title}: {item.why}")
        out.extend(f"    {line}" for line in item.lines)
    out.append("")
    out.append("Session state does not survive a transaction pool:")
    out.extend(f"  - {c.feature}: use {c.instead}" for c in CAVEATS)
    return "\n".join(out)
