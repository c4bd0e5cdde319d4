"""What an application needs to stay healthy behind a transaction-mode pool: the advice, in one place, per stack.

Data first (the settings are Python values the tests feed to the real drivers through a real PgBouncer), then
the advice per stack (:func:`advice`), decided by what the pool was *measured* to do (a
:class:`~do_pgpool._pool_behaviour.PoolBehaviour` from the probe; ``None`` = not measured, so the settings that
are safe on any transaction pool), then two renderers: :func:`render_text` for people and :func:`advice_dict`
for ``-o json``. Every item names its sources; docs/app-settings.md shows each stack's text as printed.

Why (measured on PostgreSQL 15 + PgBouncer 1.18, transaction mode): clients share server connections
between transactions, so anything that lives in the server *session* leaks or breaks. psycopg 3 prepares a
query after 5 executions as ``_pg3_0``, ``_pg3_1``, ... numbered per client connection; through the pool
that gives ``prepared statement "_pg3_0" already exists``, ``... does not exist`` and even another client's
statement run with your parameters (wrong results). ``SET``, advisory locks, ``LISTEN``, temporary tables
and ``WITH HOLD`` cursors leak between clients in the same way. PgBouncer >= 1.21 with
``max_prepared_statements`` > 0 keeps protocol-level prepared statements working; DigitalOcean does not publish
which it runs, so the probe measures it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ._exceptions import ConfigError
from ._pool_behaviour import Feature, PoolBehaviour

__all__ = [
    "ASYNCPG_CONNECT_KWARGS",
    "CAVEATS",
    "DJANGO_DATABASE_SETTINGS",
    "JDBC_URL_PARAMS",
    "LIB_PQ_URL_PARAMS",
    "PGX4_URL_PARAMS",
    "PGX5_URL_PARAMS",
    "POSTGRES_JS_OPTIONS",
    "PRISMA_POOL_URL_PARAMS",
    "PSYCOPG_CONNECT_KWARGS",
    "RAILS_DATABASE_SETTINGS",
    "SQLALCHEMY_ASYNCPG_CONNECT_ARGS",
    "SQLALCHEMY_ENGINE_KWARGS",
    "URL_STACKS",
    "Advice",
    "Caveat",
    "advice",
    "advice_dict",
    "caveats",
    "render_pointer",
    "render_text",
    "stack_uri",
    "stack_url_params",
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
#: Go lib/pq: bind and execute in one round trip (its unnamed statement otherwise spans two pool transactions).
LIB_PQ_URL_PARAMS: dict[str, str] = {"binary_parameters": "yes"}
#: Java JDBC (pgjdbc): URL parameter.
JDBC_URL_PARAMS: dict[str, str] = {"prepareThreshold": "0"}
#: Rails / ActiveRecord: database.yml entries (or URL parameters of the same names).
RAILS_DATABASE_SETTINGS: dict[str, Any] = {"prepared_statements": False, "advisory_locks": False}

_NOT_MEASURED = "not measured"


@dataclass(frozen=True)
class Advice:
    """One stack's settings: ``lines`` are what to write, exactly; ``why`` is one sentence; ``sources`` back it.

    ``session`` is True when the stack cannot use a transaction pool at all (LISTEN, session locks): it is told
    to use the direct connection or a session-mode pool instead.
    """

    key: str
    title: str
    lines: tuple[str, ...]
    why: str
    sources: tuple[str, ...] = ()
    session: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "lines": list(self.lines), "why": self.why,
                "sources": list(self.sources), "session": self.session}


@dataclass(frozen=True)
class Caveat:
    """Session state that does not survive a transaction pool, and what to use instead."""

    feature: str
    instead: str

    def as_dict(self) -> dict[str, str]:
        return {"feature": self.feature, "instead": self.instead}


@dataclass(frozen=True)
class _Ctx:
    """What one stack's advice is built from."""

    pool: str  # the pool's environment variable
    direct: str  # the direct connection's
    behaviour: PoolBehaviour | None

    @property
    def prepared_off(self) -> bool:
        """Turn prepared statements off: not measured, or measured not to work through this pool."""
        return self.behaviour is None or not self.behaviour.prepared_statements_work

    def kept(self, feature: Feature) -> bool:
        """The pool was measured to keep ``feature`` working (not measured: no)."""
        return self.behaviour is not None and self.behaviour.works(feature)

    @property
    def sessions_kept(self) -> bool:
        """The pool was measured to keep LISTEN and session advisory locks (a session-mode pool)."""
        b = self.behaviour
        return b is not None and b.works(Feature.LISTEN) and b.works(Feature.ADVISORY_LOCK)

    def prepared_reason(self) -> str:
        if self.behaviour is None:
            return "prepared statements were not measured on this pool, so they are turned off"
        state = self.behaviour.behaviour(Feature.PROTOCOL_PREPARED).value
        if not self.prepared_off:
            return "prepared statements were measured to work through this pool: nothing to turn off"
        return f"prepared statements were measured: {state} through this pool, so they are turned off"


def _query(params: dict[str, str]) -> str:
    return "&".join(f"{k}={v}" for k, v in params.items())


def _py(value: Any) -> str:
    return repr(value)


def _js(value: Any) -> str:
    return "false" if value is False else "true" if value is True else repr(value)


# --- per stack ------------------------------------------------------------------------------------------------

_S_DJANGO = "Django docs, ref/databases: PostgreSQL notes, transaction pooling and server-side cursors"
_S_PSYCOPG = "psycopg 3 docs: Prepared statements (prepare_threshold; PgBouncer)"
_S_PGB = "PgBouncer >= 1.21 max_prepared_statements: tracks protocol-level prepared statements (pgbouncer.org)"


def _django(c: _Ctx) -> Advice:
    settings = dict(DJANGO_DATABASE_SETTINGS)
    if not c.prepared_off:
        settings.pop("OPTIONS")
    cursors = "server-side cursors (WITH HOLD) do not survive a transaction pool"
    if c.kept(Feature.WITH_HOLD_CURSOR):
        settings.pop("DISABLE_SERVER_SIDE_CURSORS")
        cursors = "WITH HOLD cursors were measured to survive this pool, so server-side cursors stay on"
    return Advice(
        "django", "Django (psycopg 3)",
        (
            f"# settings.py: DATABASES['default'] = the pool's URL from {c.pool} (e.g. dj-database-url), plus:",
            *(f"{name!r}: {value!r}," for name, value in settings.items()),
            *(("# and no 'server_side_binding': True in OPTIONS (Django's default, off, is what the pool needs)",)
              if c.prepared_off else ()),
            f"# run migrations over the direct connection: {c.pool}=${c.direct} python manage.py migrate",
        ),
        f"persistent connections belong to the pool, not the server; {cursors}; {c.prepared_reason()}; "
        "migrations take session locks.",
        (_S_DJANGO, _S_PSYCOPG),
    )


def _psycopg(c: _Ctx) -> Advice:
    kwargs = "".join(f", {k}={v!r}" for k, v in PSYCOPG_CONNECT_KWARGS.items()) if c.prepared_off else ""
    return Advice(
        "psycopg", "psycopg 3",
        (f"psycopg.connect(os.environ[{c.pool!r}]{kwargs})",),
        "the default prepare_threshold=5 prepares _pg3_N statements that collide between clients sharing a "
        f"server connection (errors and wrong results); {c.prepared_reason()}.",
        (_S_PSYCOPG,),
    )


def _psycopg2(c: _Ctx) -> Advice:
    settings = {k: v for k, v in DJANGO_DATABASE_SETTINGS.items() if k != "OPTIONS"}
    return Advice(
        "psycopg2", "psycopg2 (and Django or SQLAlchemy on it)",
        (
            "# psycopg2 binds parameters on the client and never prepares: nothing to change for prepared statements",
            f"psycopg2.connect(os.environ[{c.pool!r}])  # no prepare_threshold: psycopg2 refuses it",
            f"# Django on psycopg2: DATABASES['default'] = the pool's URL from {c.pool}, plus:",
            *(f"{name!r}: {value!r}," for name, value in settings.items()),
            f"# SQLAlchemy on psycopg2: create_engine(os.environ[{c.pool!r}]) as it is",
            f"# migrations over the direct connection: {c.pool}=${c.direct} python manage.py migrate (or alembic "
            "upgrade head)",
        ),
        "psycopg2 sends no prepared statements, so no prepared-statement setting applies (psycopg 3's "
        "prepare_threshold is an error there); Django's server-side cursors still do not survive a transaction "
        "pool, and migrations take session locks.",
        ("psycopg 3 docs: Differences from psycopg2 (client-side binding)", _S_DJANGO),
    )


def _sqlalchemy(c: _Ctx) -> Advice:
    args = f", connect_args={SQLALCHEMY_ENGINE_KWARGS['connect_args']!r}" if c.prepared_off else ""
    return Advice(
        "sqlalchemy", "SQLAlchemy (psycopg 3)",
        (f"create_engine(os.environ[{c.pool!r}].replace('postgresql://', 'postgresql+psycopg://', 1){args})",),
        f"as psycopg 3: {c.prepared_reason()}.",
        ("SQLAlchemy docs: dialects/postgresql, psycopg", _S_PSYCOPG),
    )


def _sqlalchemy_asyncpg(c: _Ctx) -> Advice:
    if not c.prepared_off:
        lines: tuple[str, ...] = (
            f"create_async_engine(os.environ[{c.pool!r}].replace('postgresql://', 'postgresql+asyncpg://', 1))",)
    else:
        args = ", ".join(f"{k!r}: {v!r}" for k, v in SQLALCHEMY_ASYNCPG_CONNECT_ARGS.items())
        lines = (
            "from uuid import uuid4",
            "from sqlalchemy.pool import NullPool",
            f"create_async_engine(os.environ[{c.pool!r}].replace('postgresql://', 'postgresql+asyncpg://', 1),",
            "                    poolclass=NullPool,",
            f"                    connect_args={{{args},",
            "                                  'prepared_statement_name_func': lambda: f'__asyncpg_{uuid4()}__'})",
        )
    return Advice(
        "sqlalchemy-asyncpg", "SQLAlchemy (asyncpg)", lines,
        "statement_cache_size=0 alone is not enough: the dialect still prepares statements, so they need unique "
        f"names and no pool of their own above PgBouncer (NullPool); {c.prepared_reason()}.",
        ("SQLAlchemy docs: dialects/postgresql, asyncpg, 'Prepared Statement Name with PGBouncer'",
         "MagicStack/asyncpg #1058", "sqlalchemy/sqlalchemy #6467"),
    )


def _asyncpg(c: _Ctx) -> Advice:
    kwargs = "".join(f", {k}={v!r}" for k, v in ASYNCPG_CONNECT_KWARGS.items()) if c.prepared_off else ""
    return Advice(
        "asyncpg", "asyncpg",
        (f"await asyncpg.connect(os.environ[{c.pool!r}]{kwargs})  # the same for asyncpg.create_pool()",),
        f"asyncpg prepares and caches every statement; {c.prepared_reason()}.",
        ("asyncpg FAQ: 'I am using pgbouncer ... prepared statement errors'",),
    )


def _rails(c: _Ctx) -> Advice:
    settings = _rails_settings(c)
    locks = ("migrations take a session advisory lock, which a transaction pool hands to other clients "
             "(advisory_locks: false)")
    if c.kept(Feature.ADVISORY_LOCK):
        locks = "session advisory locks were measured to hold through this pool, so migrations keep their lock"
    return Advice(
        "rails", "Rails / ActiveRecord (pg)",
        (
            f"# config/database.yml, or the same names as query parameters of {c.pool}:",
            "production:",
            f"  url: <%= ENV['{c.pool}'] %>",
            *(f"  {name}: {value}" for name, value in settings.items()),
            f"# or run migrations over the direct connection: {c.pool}=${c.direct} bin/rails db:migrate",
        ),
        f"{locks}; {c.prepared_reason()}.",
        ("heroku/heroku-buildpack-pgbouncer README (prepared_statements, advisory_locks)", "rails/rails #33691"),
    )


def _rails_settings(c: _Ctx) -> dict[str, str]:
    """database.yml entries (= URL parameters): each only where the pool was not measured to keep the feature."""
    settings = {k: str(v).lower() for k, v in RAILS_DATABASE_SETTINGS.items()}
    if not c.prepared_off:
        settings.pop("prepared_statements")
    if c.kept(Feature.ADVISORY_LOCK):
        settings.pop("advisory_locks")
    return settings


_S_PRISMA = "Prisma docs: 'Configure Prisma Client with PgBouncer' (pgbouncer=true, directUrl)"


def _prisma(c: _Ctx) -> Advice:
    params = {"connection_limit": "N", **(PRISMA_POOL_URL_PARAMS if c.prepared_off else {})}
    why = ("pgbouncer=true turns Prisma's prepared statements off" if c.prepared_off else
           "prepared statements were measured to work through this pool, so no pgbouncer parameter (Prisma "
           "advises against it on PgBouncer >= 1.21)")
    return Advice(
        "prisma", "Prisma 6 and older",
        (
            "# .env: DigitalOcean's URIs (they end in ?sslmode=require); N: the pool's size / the app's instances",
            f"{c.pool}=<the pool's URI, port 25061>&{_query(params)}",
            f"{c.direct}=<the cluster's URI, port 25060>",
            "# schema.prisma:",
            "datasource db {",
            '  provider  = "postgresql"',
            f'  url       = env("{c.pool}")',
            f'  directUrl = env("{c.direct}")  // prisma migrate: session advisory locks',
            "}",
        ),
        f"{why}; connection_limit caps Prisma's own pool (default 2 x CPUs + 1); migrations need the direct "
        "connection.",
        (_S_PRISMA, "redwoodjs/graphql #6462", _S_PGB),
    )


def _prisma7(c: _Ctx) -> Advice:
    return Advice(
        "prisma7", "Prisma 7",
        (
            "// prisma.config.ts: migrate and introspection use the direct connection",
            "import { defineConfig, env } from 'prisma/config'",
            "export default defineConfig({ schema: 'prisma/schema.prisma', "
            f"datasource: {{ url: env('{c.direct}') }} }})",
            "// the app: the pool's URL through the driver adapter (npm install @prisma/adapter-pg)",
            "import { PrismaPg } from '@prisma/adapter-pg'",
            "const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: "
            f"process.env.{c.pool} }}) }})",
            *(("// leave out the adapter's statementNameGenerator option: it names (prepares) statements",)
              if c.prepared_off else ()),
        ),
        "Prisma 7 reads the URL in prisma.config.ts for migrations only; at run time node-postgres (the adapter) "
        "sends unnamed statements, which a transaction pool serves whatever it does with prepared ones.",
        ("prisma/docs #7226, #7266", "brianc/node-postgres #2375"),
    )


_S_NODE_PG = "brianc/node-postgres #2375, #2558 (named statements; sslmode in the URL vs DigitalOcean's CA)"
_CA_LINE = ("// DigitalOcean's CA: drop sslmode from the URL and pass ssl: { ca: fs.readFileSync('ca-certificate.crt')"
            ".toString() } (sslmode=require in the URL makes pg verify and fail on the self-signed chain)")


def _node_style(key: str, title: str, create: str, c: _Ctx) -> Advice:
    named = ("// queries given a name: are named prepared statements: leave the name out behind this pool"
             if c.prepared_off else "// named queries (name:) were measured to work through this pool")
    return Advice(
        key, title, (create, named, _CA_LINE),
        "node-postgres sends unnamed statements, which any transaction pool serves; only queries given a name: "
        "are prepared on the server.",
        (_S_NODE_PG,),
    )


def _node_postgres(c: _Ctx) -> Advice:
    return _node_style("node-postgres", "node-postgres (pg)",
                       f"new pg.Pool({{ connectionString: process.env.{c.pool} }})", c)


def _knex(c: _Ctx) -> Advice:
    advice = _node_style("knex", "Knex (pg)", f"knex({{ client: 'pg', connection: process.env.{c.pool} }})", c)
    return Advice(advice.key, advice.title, (*advice.lines,
                  "// DigitalOcean's pool URL names the pool as the database: name the pool like the database "
                  "(Knex/Strapi compare them)"),
                  advice.why, (*advice.sources, "strapi/strapi #6308"))


def _sequelize(c: _Ctx) -> Advice:
    return _node_style("sequelize", "Sequelize (pg)",
                       f"new Sequelize(process.env.{c.pool}, {{ dialect: 'postgres' }})", c)


def _typeorm(c: _Ctx) -> Advice:
    return _node_style("typeorm", "TypeORM (pg)",
                       f"new DataSource({{ type: 'postgres', url: process.env.{c.pool} }})", c)


_S_POSTGRES_JS = "porsager/postgres #40 (prepare: false behind PgBouncer)"


def _postgres_js(c: _Ctx) -> Advice:
    opts = ", { " + ", ".join(f"{k}: {_js(v)}" for k, v in POSTGRES_JS_OPTIONS.items()) + " }" \
        if c.prepared_off else ""
    return Advice(
        "postgres-js", "postgres.js",
        (f"const sql = postgres(process.env.{c.pool}{opts})",),
        f"postgres.js prepares every query by default; {c.prepared_reason()}.",
        (_S_POSTGRES_JS,),
    )


def _drizzle(c: _Ctx) -> Advice:
    opts = ", { " + ", ".join(f"{k}: {_js(v)}" for k, v in POSTGRES_JS_OPTIONS.items()) + " }" \
        if c.prepared_off else ""
    return Advice(
        "drizzle", "Drizzle ORM",
        (
            f"// drizzle-orm/postgres-js: drizzle(postgres(process.env.{c.pool}{opts}))",
            f"// drizzle-orm/node-postgres: drizzle(process.env.{c.pool}), nothing to change",
            f"// drizzle.config.ts (drizzle-kit migrate): dbCredentials: {{ url: process.env.{c.direct} }}",
        ),
        f"on postgres.js, prepared statements are its default; {c.prepared_reason()}; migrations over the direct "
        "connection.",
        (_S_POSTGRES_JS, _S_NODE_PG),
    )


def _url_stack(key: str, title: str, params: dict[str, str], how: str, why: str, sources: tuple[str, ...],
               c: _Ctx, always: bool = False) -> Advice:
    if c.prepared_off or always:
        lines: tuple[str, ...] = (
            f"# DigitalOcean's pool URI (it ends in ?sslmode=require) with {_query(params)} added{how}",
            f"{c.pool}=<the pool's URI, port 25061>&{_query(params)}",
        )
    else:
        lines = (f"# {c.pool}: the pool's URL as it is",)
    reason = "needed on any transaction pool" if always else c.prepared_reason()
    return Advice(key, title, lines, f"{why}; {reason}.", sources)


def _pgx5(c: _Ctx) -> Advice:
    return _url_stack(
        "pgx5", "Go pgx v5", PGX5_URL_PARAMS, " (or ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec)",
        "pgx caches a prepared statement per query by default", ("jackc/pgx #650",), c)


def _pgx4(c: _Ctx) -> Advice:
    return _url_stack(
        "pgx4", "Go pgx v4", PGX4_URL_PARAMS, "",
        "pgx v4 caches prepared statements by default", ("pgx v4 docs: statement_cache_mode",), c)


def _lib_pq(c: _Ctx) -> Advice:
    return _url_stack(
        "lib-pq", "Go lib/pq", LIB_PQ_URL_PARAMS, "",
        "lib/pq parses a parametrized query and executes it in two round trips, which a transaction pool may "
        "send to two server connections", ("lib/pq docs: binary_parameters",), c, always=True)


def _jdbc(c: _Ctx) -> Advice:
    query = _query(JDBC_URL_PARAMS)
    if c.prepared_off:
        lines: tuple[str, ...] = (
            f"# JDBC URL of the pool (user and password as properties): {query} added",
            f"jdbc:postgresql://HOST:25061/POOL?sslmode=require&{query}",
            f"# Spring: spring.datasource.url=jdbc:postgresql://HOST:25061/POOL?sslmode=require&{query}",
        )
    else:
        lines = ("# the pool's JDBC URL as it is: jdbc:postgresql://HOST:25061/POOL?sslmode=require",)
    return Advice(
        "jdbc", "Java JDBC (pgjdbc)", lines,
        f"pgjdbc switches to named server-side statements after 5 executions; {c.prepared_reason()}.",
        ("pgjdbc docs: prepareThreshold", "digitalocean/databases #17"),
    )


_S_PDO = "pgbouncer/pgbouncer #1129 (PDO pgsql prepared statements)"


def _laravel(c: _Ctx) -> Advice:
    option = "    'options' => [PDO::ATTR_EMULATE_PREPARES => true]," if c.prepared_off else \
        "    // nothing to add: prepared statements were measured to work through this pool"
    return Advice(
        "laravel", "Laravel (PDO pgsql)",
        (
            "// config/database.php, connections.pgsql:",
            "'pgsql' => [",
            "    'driver' => 'pgsql',",
            f"    'url' => env('{c.pool}'),",
            option,
            "],",
            f"# migrations over the direct connection: {c.pool}=${c.direct} php artisan migrate",
        ),
        f"PDO pgsql prepares every statement on the server unless prepares are emulated; {c.prepared_reason()}.",
        (_S_PDO,),
    )


def _pdo(c: _Ctx) -> Advice:
    opts = "[PDO::ATTR_EMULATE_PREPARES => true]" if c.prepared_off else "[]"
    return Advice(
        "pdo-pgsql", "PHP PDO (pgsql)",
        ("$pdo = new PDO('pgsql:host=HOST;port=25061;dbname=POOL;sslmode=require', $user, $password, "
         f"{opts});",),
        f"PDO pgsql prepares every statement on the server unless prepares are emulated; {c.prepared_reason()}.",
        (_S_PDO,),
    )


def _session(key: str, title: str, needs: str, sources: tuple[str, ...]) -> Callable[[_Ctx], Advice]:
    def build(c: _Ctx) -> Advice:
        if c.sessions_kept:
            return Advice(key, title, (f"# {c.pool}: this pool was measured to keep sessions: nothing to change",),
                          f"{title} needs {needs}; this pool keeps them (measured).", sources, session=True)
        return Advice(
            key, title,
            (
                f"# {title} must not connect through a transaction pool: give it the direct connection (${c.direct})",
                "# or a session-mode pool of its own:",
                "do-pgpool ensure-pool --cluster CLUSTER --name POOL-session --mode session --size N",
            ),
            f"{title} needs {needs}, which a transaction pool hands to whichever client runs next.",
            sources, session=True,
        )
    return build


_BUILDERS: dict[str, Callable[[_Ctx], Advice]] = {
    "django": _django,
    "psycopg": _psycopg,
    "psycopg2": _psycopg2,
    "sqlalchemy": _sqlalchemy,
    "sqlalchemy-asyncpg": _sqlalchemy_asyncpg,
    "asyncpg": _asyncpg,
    "rails": _rails,
    "prisma": _prisma,
    "prisma7": _prisma7,
    "node-postgres": _node_postgres,
    "postgres-js": _postgres_js,
    "knex": _knex,
    "sequelize": _sequelize,
    "typeorm": _typeorm,
    "drizzle": _drizzle,
    "pgx5": _pgx5,
    "pgx4": _pgx4,
    "lib-pq": _lib_pq,
    "jdbc": _jdbc,
    "laravel": _laravel,
    "pdo-pgsql": _pdo,
    "good-job": _session("good-job", "GoodJob", "LISTEN/NOTIFY and session advisory locks",
                         ("bensheldon/good_job #1338, #1573 (README: session pooling only)",)),
    "graphile-worker": _session("graphile-worker", "Graphile Worker", "LISTEN/NOTIFY and named prepared statements",
                                ("graphile/worker #119",)),
    "hasura": _session("hasura", "Hasura GraphQL Engine", "prepared statements and session state",
                       ("hasura/graphql-engine #2491",)),
}

#: The stacks whose settings fit in the pool's URL: what a secret target can write for them (``url_for``).
URL_STACKS: tuple[str, ...] = ("prisma", "rails", "pgx5", "pgx4", "lib-pq")


def stack_url_params(stack: str, behaviour: PoolBehaviour | None = None, *, pool_size: int | None = None) -> dict[
        str, str]:
    """The query parameters to add to the pool's URL for ``stack`` (one of :data:`URL_STACKS`).

    ``pool_size`` is Prisma's ``connection_limit`` (one instance never needs more than the pool serves at once).
    Raises ConfigError for a stack whose settings are not URL parameters.
    """
    c = _Ctx("", "", behaviour)
    if stack == "prisma":
        limit = {"connection_limit": str(pool_size)} if pool_size else {}
        return {**limit, **(PRISMA_POOL_URL_PARAMS if c.prepared_off else {})}
    if stack == "rails":
        return _rails_settings(c)
    if stack in ("pgx5", "pgx4"):
        return dict(PGX5_URL_PARAMS if stack == "pgx5" else PGX4_URL_PARAMS) if c.prepared_off else {}
    if stack == "lib-pq":
        return dict(LIB_PQ_URL_PARAMS)
    raise ConfigError(f"no URL shape for stack {stack!r}: its settings are not URL parameters; known: "
                      f"{', '.join(URL_STACKS)}")


def stack_uri(uri: str, stack: str, behaviour: PoolBehaviour | None = None, *, pool_size: int | None = None) -> str:
    """``uri`` (DigitalOcean's pool URI) with ``stack``'s parameters added to its query (replacing any of the same
    name); every other part, and the other parameters in their order, kept as given."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    params = stack_url_params(stack, behaviour, pool_size=pool_size)
    parts = urlsplit(uri)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    return urlunsplit(parts._replace(query=urlencode([*query, *params.items()], safe="/")))


def _check(stacks: Sequence[str] | None) -> tuple[str, ...]:
    if stacks is None:
        return tuple(_BUILDERS)
    if isinstance(stacks, str):
        stacks = (stacks,)
    unknown = [s for s in stacks if s not in _BUILDERS]
    if unknown:
        raise ConfigError(f"no advice for {', '.join(map(repr, unknown))}; known: {', '.join(_BUILDERS)}")
    return tuple(s for s in _BUILDERS if s in stacks)


def advice(
    *,
    pool_env: str = "DATABASE_URL",
    direct_env: str = "DIRECT_DATABASE_URL",
    behaviour: PoolBehaviour | None = None,
    stacks: Sequence[str] | None = None,
) -> tuple[Advice, ...]:
    """The advice for ``stacks`` (stack keys, see ``do_pgpool._stacks.STACKS``; ``None`` = every stack).

    ``pool_env`` holds the pool's connection string, ``direct_env`` the cluster's. ``behaviour`` is what the probe
    measured on the pool; ``None`` (not measured) gives the settings that are safe on any transaction pool.
    Raises ConfigError for an unknown stack, naming the known ones.
    """
    ctx = _Ctx(pool_env, direct_env, behaviour)
    return tuple(_BUILDERS[key](ctx) for key in _check(stacks))


CAVEATS: tuple[Caveat, ...] = (
    Caveat("SET name = value", "SET LOCAL inside the transaction (a plain SET leaks to other clients)"),
    Caveat("pg_advisory_lock()", "pg_advisory_xact_lock() (session locks are held by a shared server connection)"),
    Caveat("LISTEN / NOTIFY", "the direct connection (a listener needs its own session)"),
    Caveat("temporary tables, WITH HOLD cursors", "the direct connection, or keep them inside one transaction"),
    Caveat("migrations, pg_dump, psql sessions", "the direct connection string (do-pgpool migrate -- CMD runs a "
           "migration on it and ends the sessions it leaves behind)"),
)


#: the features each caveat is about: a pool measured to keep all of them needs no such caveat
_CAVEAT_FEATURES: dict[str, tuple[Feature, ...]] = {
    "SET name = value": (Feature.SET,),
    "pg_advisory_lock()": (Feature.ADVISORY_LOCK,),
    "LISTEN / NOTIFY": (Feature.LISTEN,),
    "temporary tables, WITH HOLD cursors": (Feature.TEMP_TABLE, Feature.WITH_HOLD_CURSOR),
}


def caveats(behaviour: PoolBehaviour | None = None) -> tuple[Caveat, ...]:
    """:data:`CAVEATS` less those whose features the pool was measured to keep (a session-mode pool keeps them)."""
    if behaviour is None:
        return CAVEATS
    return tuple(c for c in CAVEATS if not (
        c.feature in _CAVEAT_FEATURES and all(behaviour.works(f) for f in _CAVEAT_FEATURES[c.feature])))


def _prepared_summary(behaviour: PoolBehaviour | None) -> str:
    if behaviour is None:
        return _NOT_MEASURED
    return behaviour.behaviour(Feature.PROTOCOL_PREPARED).value


def advice_dict(
    *,
    pool_env: str = "DATABASE_URL",
    direct_env: str = "DIRECT_DATABASE_URL",
    behaviour: PoolBehaviour | None = None,
    stacks: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The advice for ``-o json`` (``measured``: the pool's behaviour as read, or null)."""
    return {
        "pool_env": pool_env,
        "direct_env": direct_env,
        "measured": behaviour.as_dict() if behaviour is not None else None,
        "prepared_statements": _prepared_summary(behaviour),
        "frameworks": [a.as_dict() for a in advice(pool_env=pool_env, direct_env=direct_env, behaviour=behaviour,
                                                   stacks=stacks)],
        "caveats": [c.as_dict() for c in caveats(behaviour)],
    }


def render_pointer(*, pool_env: str = "DATABASE_URL") -> str:
    """The short form ``status`` and ``fix`` print after their findings: what breaks, and where the settings are
    (every stack's settings run to some 170 lines, too many for an incident's terminal)."""
    env = "" if pool_env == "DATABASE_URL" else f" --pool-env {pool_env}"
    out = [
        "Behind a transaction pool an app needs settings for its stack (prepared statements above all):",
        f"    do-pgpool advice{env}                    # detects the stack from the current directory",
        f"    do-pgpool probe -o json > probe.json && do-pgpool advice{env} --probe probe.json"
        "   # decided by what this pool does",
        "Session state does not survive a transaction pool:",
    ]
    out.extend(f"  - {c.feature}: use {c.instead}" for c in CAVEATS)
    return "\n".join(out)


def render_text(
    *,
    pool_env: str = "DATABASE_URL",
    direct_env: str = "DIRECT_DATABASE_URL",
    only: str | None = None,
    behaviour: PoolBehaviour | None = None,
    stacks: Sequence[str] | None = None,
) -> str:
    """Human-readable advice for ``stacks`` (``only``: one stack, as before; neither: every stack).

    Raises ConfigError for an unknown stack, naming the known ones.
    """
    items = advice(pool_env=pool_env, direct_env=direct_env, behaviour=behaviour,
                   stacks=(only,) if only is not None else stacks)
    out = [f"Behind a transaction pool ({pool_env} = the pool, {direct_env} = the cluster's direct connection):"]
    if behaviour is None:
        out.append("Prepared statements: not measured, so turned off where a stack uses them (save "
                   "`do-pgpool probe -o json` to a file and pass it as --probe FILE to decide from the pool).")
    else:
        out.append(f"Prepared statements through this pool: {_prepared_summary(behaviour)} (measured).")
    for item in items:
        out.append("")
        out.append(f"{item.title}: {item.why}")
        out.extend(f"    {line}" for line in item.lines)
        out.append(f"  sources: {'; '.join(item.sources)}")
    kept = caveats(behaviour)
    out.append("")
    out.append("Session state does not survive a transaction pool:" if len(kept) > 1 else
               "The pool was measured to keep session state; still:")
    out.extend(f"  - {c.feature}: use {c.instead}" for c in kept)
    return "\n".join(out)

