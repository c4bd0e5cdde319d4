"""The advice, proven with the real drivers through the real PgBouncer (transaction mode): errors without it, none
with it.

Each driver runs a prepared-statement-heavy loop (3 clients x 4 rounds x 2 transactions of one parametrized query)
on a pool of 2 server connections, on a schedule that puts every client on both of them in turn (see
``tests/drivers/python_drivers.py``): nothing depends on timing, so the counts are the same in every run. The
settings "with the advice" are read from ``do_pgpool._advice``'s constants, so wrong advice fails here. The Node
drivers (node-postgres, postgres.js, Prisma 7) run from ``tests/drivers/node`` (``make test`` installs them with
``npm ci``). docs/driver-tests.md has the measured table.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from do_pgpool._advice import (
    ASYNCPG_CONNECT_KWARGS,
    POSTGRES_JS_OPTIONS,
    PRISMA_POOL_URL_PARAMS,
    PSYCOPG_CONNECT_KWARGS,
    SQLALCHEMY_ASYNCPG_CONNECT_ARGS,
    SQLALCHEMY_ENGINE_KWARGS,
)
from do_pgpool.testing._servers import PoolAlias, RealServers, _admin_connect
from tests.conftest_servers import kick_client_backends
from tests.drivers import python_drivers

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "tests" / "drivers" / "node"
#: ``make test`` writes it after ``npm ci`` and ``prisma generate`` succeeded
NODE_READY = NODE_DIR / "node_modules" / ".do-pgpool-installed"
DRIVERS_POOL = "drivers-pool"
CLIENTS, ROUNDS = 3, 4
RUNS = 2 * CLIENTS * ROUNDS
PREPARED_ERROR = re.compile(r'prepared statement "[^"]+" (already exists|does not exist)')


# --- the pool and the harness ---------------------------------------------------------------------------------


def _drop_server_connections(servers: RealServers) -> None:
    """``KILL`` + ``RESUME`` the pool on PgBouncer's console: no server connection (nor prepared statement) is left."""
    with _admin_connect(servers.admin_conninfo()) as conn:
        conn.execute(f'KILL "{DRIVERS_POOL}"')
        conn.execute(f'RESUME "{DRIVERS_POOL}"')


def _with_drivers_pool(servers: RealServers) -> Iterator[RealServers]:
    """``servers`` plus ``drivers-pool`` (2 server connections); removed again afterwards."""
    kick_client_backends(servers)  # idle server connections of other pools would take the slots
    servers.add_pool(DRIVERS_POOL, PoolAlias(size=2))
    yield servers
    _drop_server_connections(servers)
    servers.set_pools({n: a for n, a in servers.pools.items() if n != DRIVERS_POOL})


def _fresh_pool_url(servers: RealServers) -> str:
    """``drivers-pool``'s URL, every test starting with no server connection open."""
    _drop_server_connections(servers)
    return servers.pool_url(DRIVERS_POOL)


@pytest.fixture(scope="module")
def drivers_servers(pgbouncer_server: RealServers) -> Iterator[RealServers]:
    """``drivers-pool`` on the session's PgBouncer (Debian's 1.18)."""
    yield from _with_drivers_pool(pgbouncer_server)


@pytest.fixture
def pool_url(drivers_servers: RealServers) -> str:
    assert drivers_servers.pgbouncer_version() < (1, 21)
    return _fresh_pool_url(drivers_servers)


@pytest.fixture(scope="module")
def new_drivers_servers(pgbouncer_new: RealServers) -> Iterator[RealServers]:
    """``drivers-pool`` on the PgBouncer >= 1.21 with ``max_prepared_statements`` > 0."""
    yield from _with_drivers_pool(pgbouncer_new)


@pytest.fixture
def new_pool_url(new_drivers_servers: RealServers) -> str:
    assert new_drivers_servers.pgbouncer_version() >= (1, 21)
    return _fresh_pool_url(new_drivers_servers)


def assert_breaks(result: dict[str, Any]) -> None:
    assert result["errors"], f"expected prepared-statement errors without the advice: {result}"
    unexpected = [e for e in result["errors"] if not PREPARED_ERROR.search(e)]
    assert not unexpected, unexpected


def assert_works(result: dict[str, Any]) -> None:
    assert (result["ok"], result["wrong"], result["errors"]) == (RUNS, 0, []), result
    assert len(result["servers"]) == 2, f"the schedule must use both server connections: {result}"


# --- the cases -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One driver with its settings: ``driver`` as python_drivers.py / run.mjs name it, ``config`` their input."""

    driver: str
    node: bool = False
    config: dict[str, Any] = field(default_factory=dict)


#: Each driver as it comes (or, for node-postgres and Prisma 7, with the named statements that break).
DEFAULTS = {
    "psycopg": Case("psycopg"),
    "asyncpg": Case("asyncpg"),
    "sqlalchemy-psycopg": Case("sqlalchemy-psycopg"),
    "sqlalchemy-asyncpg": Case("sqlalchemy-asyncpg"),
    "node-postgres-named": Case("pg", node=True, config={"named": True}),
    "postgres.js": Case("postgres", node=True, config={"options": {}}),
    "prisma-7-statement-names": Case("prisma", node=True, config={"cacheNames": True}),
}
#: Each driver with the advice's settings (node-postgres and Prisma 7: their default, unnamed statements).
ADVISED = {
    "psycopg": Case("psycopg", config={"kwargs": PSYCOPG_CONNECT_KWARGS}),
    "asyncpg": Case("asyncpg", config={"kwargs": ASYNCPG_CONNECT_KWARGS}),
    "sqlalchemy-psycopg": Case("sqlalchemy-psycopg", config={"kwargs": SQLALCHEMY_ENGINE_KWARGS}),
    # the advice's code part (a class and a function are not data; see SQLALCHEMY_ASYNCPG_CONNECT_ARGS)
    "sqlalchemy-asyncpg": Case("sqlalchemy-asyncpg", config={
        "kwargs": {"poolclass": "NullPool", "connect_args": SQLALCHEMY_ASYNCPG_CONNECT_ARGS}, "unique_names": True}),
    "node-postgres": Case("pg", node=True),
    "postgres.js": Case("postgres", node=True, config={"options": POSTGRES_JS_OPTIONS}),
    "prisma-7": Case("prisma", node=True),
}  # fmt: skip


def run_case(request: pytest.FixtureRequest, servers: RealServers, url: str, case: Case) -> dict[str, Any]:
    if case.node:
        return run_node(request.getfixturevalue("node"), servers, url, case.driver, **case.config)
    return run_python(url, case.driver, **case.config)


def run_python(url: str, driver: str, **config: Any) -> dict[str, Any]:
    return asyncio.run(python_drivers.run({"driver": driver, "url": url, "clients": CLIENTS, "rounds": ROUNDS,
                                           **config}))  # fmt: skip


@pytest.mark.parametrize("case", DEFAULTS)
def test_defaults_break_on_pgbouncer_1_18(
    request: pytest.FixtureRequest, drivers_servers: RealServers, pool_url: str, case: str
) -> None:
    assert_breaks(run_case(request, drivers_servers, pool_url, DEFAULTS[case]))


@pytest.mark.parametrize("case", ADVISED)
def test_the_advice_works_on_pgbouncer_1_18(
    request: pytest.FixtureRequest, drivers_servers: RealServers, pool_url: str, case: str
) -> None:
    assert_works(run_case(request, drivers_servers, pool_url, ADVISED[case]))


#: Prisma's named statements are node-postgres's (measured: they work there too); left out to keep the suite fast.
NEW_CASES = [name for name in DEFAULTS if name != "prisma-7-statement-names"]


@pytest.mark.parametrize("case", NEW_CASES)
def test_defaults_work_on_pgbouncer_1_21_with_max_prepared_statements(
    request: pytest.FixtureRequest, new_drivers_servers: RealServers, new_pool_url: str, case: str
) -> None:
    """PgBouncer >= 1.21 tracks protocol-level prepared statements itself: the same loops need no advice there."""
    assert_works(run_case(request, new_drivers_servers, new_pool_url, DEFAULTS[case]))


# --- Python drivers: the details ------------------------------------------------------------------------------


def test_sqlalchemy_asyncpg_connect_args_alone_suffice_since_asyncpg_0_31(pool_url: str) -> None:
    """asyncpg >= 0.31 prepares *unnamed* statements when its cache is off, so the advice's connect_args alone work
    (measured: asyncpg 0.28 and 0.30 still failed with them alone, so the advice keeps NullPool and unique names)."""
    result = run_python(pool_url, "sqlalchemy-asyncpg", kwargs={"connect_args": SQLALCHEMY_ASYNCPG_CONNECT_ARGS})
    assert_works(result)


def test_sqlalchemy_asyncpg_with_the_advice_works_in_two_app_processes(pool_url: str) -> None:
    """asyncpg numbers its statement names per *process*, so a second app process on the same server connections
    is where its names collide (asyncpg <= 0.30, measured by hand); the advice's unique names work with any."""
    advised = ADVISED["sqlalchemy-asyncpg"]
    config = {"driver": advised.driver, "url": pool_url, "clients": CLIENTS, "rounds": ROUNDS, **advised.config}
    for _process in range(2):
        proc = subprocess.run([sys.executable, "-m", "tests.drivers.python_drivers"], input=json.dumps(config),
                              capture_output=True, text=True, timeout=60, cwd=ROOT, check=False)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert_works(json.loads(proc.stdout))


# --- Node drivers ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def node() -> str:
    """The ``node`` binary, with the harness's packages installed; a clear failure (never a skip) otherwise."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("the Node driver tests need Node.js >= 20.19 and npm on PATH (then `make test` installs the "
                    "drivers with `npm ci` in tests/drivers/node)", pytrace=False)  # fmt: skip
    if not NODE_READY.exists():
        pytest.fail(f"the Node drivers are not installed in {NODE_DIR}: run `make test` (or `make node-drivers`), "
                    "which runs `npm ci` and `prisma generate` there", pytrace=False)  # fmt: skip
    return node


def run_node(node: str, servers: RealServers, url: str, driver: str, **config: Any) -> dict[str, Any]:
    payload = {"driver": driver, "url": url, "ca": str(servers.ca_file), "clients": CLIENTS, "rounds": ROUNDS,
               **config}  # fmt: skip
    proc = subprocess.run([node, "run.mjs"], input=json.dumps(payload), capture_output=True, text=True,
                          timeout=60, cwd=NODE_DIR, check=False)  # fmt: skip
    assert proc.returncode == 0, f"node run.mjs failed ({proc.returncode}): {proc.stderr}"
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def test_prisma_7_takes_the_advised_url(node: str, drivers_servers: RealServers, pool_url: str) -> None:
    """Prisma 7 (``@prisma/adapter-pg``, no Rust engine) sends unnamed statements, so it works through the pool as
    it comes; the advice's URL parameters (for Prisma <= 6's engine) do no harm there."""
    url = f"{pool_url}&{urlencode(PRISMA_POOL_URL_PARAMS)}"
    assert_works(run_node(node, drivers_servers, url, "prisma"))
